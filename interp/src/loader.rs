//! [`StreamingLoader`]: build a [`Program`] from a byte stream (fetch, file stream) without
//! ever holding the whole file. The format's incremental parser decodes each weight chunk
//! straight into its slot of the 64-byte-aligned, segmented arena; this layer checks op support as soon
//! as the graph is complete — before any weight byte arrives — and reports progress.
//!
//! Optionally ([`StreamingLoader::run_while_loading`]) it also runs the model on given
//! inputs during the load, each instruction as soon as the weights it reads arrived (see
//! `early.rs`); [`StreamingLoader::finish_run`] returns the outputs with the program.

use std::sync::Arc;

use wasm_torch_format::{Limits, StreamEvent, StreamParser};

use crate::early::{EarlyRun, FirstRun};
use crate::error::{Error, Result};
use crate::ops::OpFn;
use crate::program::{resolve_ops, Program};
use crate::tensor::Tensor;
use crate::weights::ArenaSources;

/// Progress after a [`StreamingLoader::feed`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadProgress {
    /// Bytes consumed so far.
    pub bytes_consumed: u64,
    /// Total file length once the header is known.
    pub total_bytes: Option<u64>,
    /// Whether the graph (everything before the weights) has been parsed and accepted.
    pub graph_ready: bool,
    /// Weight chunks decoded so far.
    pub chunks_ready: u32,
    /// Number of weight chunks (0 until the graph is ready).
    pub chunks_total: u32,
}

/// Incremental loader over the format's streaming parser.
pub struct StreamingLoader {
    parser: StreamParser,
    ops: Option<Vec<OpFn>>,
    chunks_ready: u32,
    failed: Option<Error>,
    /// Per chunk, the tensors stored in it that are packed on arrival (filled when the graph
    /// arrives; empty for every other chunk).
    chunk_tensors: Vec<Vec<usize>>,
    /// Weights built while their chunk streamed in (packed int8), by tensor index.
    prebuilt: Vec<Option<crate::tensor::Tensor>>,
    /// File offsets where a packed chunk ends, ascending (chunks are in file order).
    pack_ends: Vec<u64>,
    /// The run that goes along with the load, if one was asked for.
    early: Option<EarlyRun>,
    /// With a run: per chunk, every tensor stored in it (filled when the graph arrives).
    tensors_of_chunk: Vec<Vec<usize>>,
    /// With a run: the leading chunks whose weights are all built into `prebuilt`.
    chunks_built: usize,
}

/// A copy of the resolved op table (function pointers) for the run while loading.
fn ops_of(ops: &Option<Vec<OpFn>>) -> Vec<OpFn> {
    ops.clone().unwrap_or_default()
}

/// The chunks that hold nothing but weights packed for the int8 kernels: each gets an arena
/// segment of its own, is packed as it arrives and released, so a quantized model's load
/// never holds all its stored codes and all its packed weights at once (peak: the resident
/// weights + one chunk).
fn packable_chunks(graph: &wasm_torch_format::model::Graph) -> Vec<bool> {
    // 0 = no tensor yet, 1 = only packable ones so far, 2 = something else.
    let mut state = vec![0u8; graph.chunks.len()];
    for t in &graph.tensors {
        if let Some(s) = state.get_mut(t.chunk as usize) {
            let ok = crate::quant_weights::packable_int8(t);
            *s = if ok && *s != 2 { 1 } else { 2 };
        }
    }
    state.into_iter().map(|s| s == 1).collect()
}

impl Default for StreamingLoader {
    fn default() -> Self {
        StreamingLoader::new()
    }
}

impl StreamingLoader {
    /// A loader with the default parser limits.
    pub fn new() -> Self {
        StreamingLoader::with_limits(Limits::default())
    }

    /// A loader with explicit parser limits.
    pub fn with_limits(limits: Limits) -> Self {
        StreamingLoader {
            parser: StreamParser::new(limits).with_own_segments(packable_chunks),
            ops: None,
            chunks_ready: 0,
            failed: None,
            chunk_tensors: Vec::new(),
            prebuilt: Vec::new(),
            pack_ends: Vec::new(),
            early: None,
            tensors_of_chunk: Vec::new(),
            chunks_built: 0,
        }
    }

    /// Run the model on `inputs` (named as in its signature) while it loads: the run starts
    /// as soon as the graph is validated, each instruction waits only for the weights it
    /// reads, and [`StreamingLoader::finish_run`] returns its outputs — the same bits a run
    /// after the load gives. Inputs that do not fit fail the load with the `InvalidInput`
    /// error `Session::run` gives, as soon as the graph arrives; an error of the run fails
    /// the load too. Must be called before the first byte is fed; each weight chunk then
    /// gets an arena segment of its own, so its weights are usable the moment it arrives.
    pub fn run_while_loading(mut self, inputs: Vec<(String, Tensor)>) -> Result<Self> {
        if self.parser.bytes_consumed() > 0 || self.early.is_some() {
            return Err(Error::invalid_input(
                "a run while loading must be asked for once, before the first byte",
            ));
        }
        self.parser = self.parser.with_segment_target(0);
        self.early = Some(EarlyRun::Waiting(inputs, None));
        Ok(self)
    }

    /// The packed-weight budget of the run while loading's session (see
    /// `Session::set_prepack_budget`), so it runs as a session with that budget would; set
    /// after [`StreamingLoader::run_while_loading`], before the first byte.
    pub fn set_run_prepack_budget(&mut self, bytes: usize) {
        if let Some(EarlyRun::Waiting(_, budget)) = &mut self.early {
            *budget = Some(bytes);
        }
    }

    /// The next instruction of the entry function a run while loading waits to execute
    /// (`None`: no run, not started, or finished).
    pub fn run_position(&self) -> Option<usize> {
        self.early.as_ref().and_then(EarlyRun::pc)
    }

    /// Use weight-arena segments of at most `bytes` (default
    /// [`wasm_torch_format::SEGMENT_TARGET`]; 0 = one per chunk). Only tests need this.
    pub fn with_segment_target(mut self, bytes: u64) -> Self {
        self.parser = self.parser.with_segment_target(bytes);
        self
    }

    /// Skip the weight chunks' CRC-32 checks (see
    /// [`wasm_torch_format::StreamParser::without_chunk_crcs`]): only for a caller that
    /// verifies the whole file with its own digest before using the program.
    pub fn without_chunk_crcs(mut self) -> Self {
        self.parser = self.parser.without_chunk_crcs();
        self
    }

    /// Feed the next piece of the file (any size, including empty).
    pub fn feed(&mut self, piece: &[u8]) -> Result<LoadProgress> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.feed_inner(piece);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    fn feed_inner(&mut self, piece: &[u8]) -> Result<LoadProgress> {
        // Cut the piece at the ends of packed chunks, so each is packed and released before
        // the next chunk's first byte makes the parser allocate its segment.
        let mut rest = piece;
        while !rest.is_empty() {
            let consumed = self.parser.bytes_consumed();
            let next = self.pack_ends.partition_point(|&end| end <= consumed);
            let take = self.pack_ends.get(next).map_or(rest.len(), |&end| {
                rest.len()
                    .min(usize::try_from(end - consumed).unwrap_or(usize::MAX))
            });
            let (now, later) = rest.split_at(take);
            self.feed_part(now)?;
            rest = later;
        }
        Ok(self.progress())
    }

    fn feed_part(&mut self, piece: &[u8]) -> Result<()> {
        let events = self.parser.feed(piece)?;
        for ev in events {
            match ev {
                StreamEvent::GraphReady => {
                    let graph = self
                        .parser
                        .graph()
                        .ok_or_else(|| Error::runtime("internal: graph ready but not available"))?;
                    let ops = resolve_ops(graph)?;
                    self.ops = Some(ops);
                    let alone = packable_chunks(graph);
                    let mut per_chunk = vec![Vec::new(); graph.chunks.len()];
                    for (i, t) in graph.tensors.iter().enumerate() {
                        if alone.get(t.chunk as usize).copied().unwrap_or(false) {
                            per_chunk[t.chunk as usize].push(i);
                        }
                    }
                    self.pack_ends = graph
                        .chunks
                        .iter()
                        .zip(&alone)
                        .filter(|(_, &a)| a)
                        .map(|(c, _)| c.file_offset.saturating_add(c.stored_len))
                        .collect();
                    self.pack_ends.sort_unstable();
                    self.chunk_tensors = per_chunk;
                    self.prebuilt = vec![None; graph.tensors.len()];
                    if let Some(run) = self.early.take() {
                        let mut all = vec![Vec::new(); graph.chunks.len()];
                        for (i, t) in graph.tensors.iter().enumerate() {
                            if let Some(c) = all.get_mut(t.chunk as usize) {
                                c.push(i);
                            }
                        }
                        self.tensors_of_chunk = all;
                        self.early = Some(run.start(graph, ops_of(&self.ops))?);
                    }
                }
                StreamEvent::ChunkReady(c) => {
                    self.chunks_ready += 1;
                    self.pack_chunk(c as usize)?;
                }
                _ => {}
            }
        }
        if self.early.is_some() {
            self.build_arrived()?;
            if let Some(run) = self.early.take() {
                self.early = Some(run.advance(&self.prebuilt, self.chunks_built)?);
            }
        }
        Ok(())
    }

    /// With a run while loading: build the weights of every newly sealed chunk (views of
    /// its arena segment, exactly as the finished program builds them) into `prebuilt`.
    fn build_arrived(&mut self) -> Result<()> {
        let (Some(graph), Some(arena)) = (self.parser.graph(), self.parser.arena()) else {
            return Ok(());
        };
        while self.chunks_built < graph.chunks.len() {
            let c = self.chunks_built;
            // A released chunk was packed on arrival: its tensors are all prebuilt.
            if !arena.is_released(c) {
                let Some((segment, offset)) = arena.shared(c) else {
                    break;
                };
                let segment: Arc<dyn crate::storage::ByteSource> = segment;
                for &i in self.tensors_of_chunk.get(c).map_or(&[][..], Vec::as_slice) {
                    if self.prebuilt[i].is_some() {
                        continue;
                    }
                    let info = &graph.tensors[i];
                    let t = crate::weights::build_one(info, &|_| Ok((segment.clone(), offset)))
                        .map_err(|e| e.context(format!("weight '{}'", info.name)))?;
                    self.prebuilt[i] = Some(t);
                }
            }
            if let Some(run) = self.early.as_mut() {
                for &i in self.tensors_of_chunk.get(c).map_or(&[][..], Vec::as_slice) {
                    if let Some(t) = &self.prebuilt[i] {
                        run.note_weight(t);
                    }
                }
            }
            self.chunks_built += 1;
        }
        Ok(())
    }

    /// Packs the int8 weights of chunk `c` if it holds nothing else, then releases the
    /// chunk's bytes. When the kernels refuse a weight's codes, the chunk is kept and every
    /// weight in it is built the ordinary way at the end.
    fn pack_chunk(&mut self, c: usize) -> Result<()> {
        let Some(tensors) = self.chunk_tensors.get(c).filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        let (Some(graph), Some(arena)) = (self.parser.graph(), self.parser.arena()) else {
            return Ok(());
        };
        let chunk = arena
            .chunk(c)
            .ok_or_else(|| Error::runtime(format!("internal: chunk {c} ready but not held")))?;
        let mut built = Vec::with_capacity(tensors.len());
        for &i in tensors {
            let info = &graph.tensors[i];
            match crate::weights::build_packed_int8(info, chunk)
                .map_err(|e| e.context(format!("weight '{}'", info.name)))?
            {
                Some(t) => built.push((i, t)),
                None => return Ok(()),
            }
        }
        for (i, t) in built {
            self.prebuilt[i] = Some(t);
        }
        self.parser.release_chunk(c)?;
        Ok(())
    }

    /// Current progress.
    pub fn progress(&self) -> LoadProgress {
        LoadProgress {
            bytes_consumed: self.parser.bytes_consumed(),
            total_bytes: self.parser.total_len(),
            graph_ready: self.ops.is_some(),
            chunks_ready: self.chunks_ready,
            chunks_total: self.parser.graph().map_or(0, |g| g.chunks.len() as u32),
        }
    }

    /// Finish after the last byte: the program, or an error if the stream was incomplete.
    pub fn finish(self) -> Result<Program> {
        self.finish_parts().map(|(p, _)| p)
    }

    /// [`StreamingLoader::finish`] for a load with [`StreamingLoader::run_while_loading`]:
    /// the program and the run's session and outputs (`None` when no run was asked for).
    pub fn finish_run(self) -> Result<(Arc<Program>, Option<FirstRun>)> {
        let (program, early) = self.finish_parts()?;
        let program = Arc::new(program);
        let first = early.map(|run| run.finish(&program)).transpose()?;
        Ok((program, first))
    }

    fn finish_parts(mut self) -> Result<(Program, Option<EarlyRun>)> {
        // The last feed ran as far as every weight allows; a run can only still be waiting
        // when chunks are missing, and then the parser's `finish` below reports the
        // truncated file.
        if let (None, Some(run)) = (&self.failed, self.early.take()) {
            match run.advance(&self.prebuilt, self.chunks_built) {
                Ok(run) => self.early = Some(run),
                Err(e) => self.failed = Some(e),
            }
        }
        if let Some(e) = self.failed {
            return Err(e);
        }
        let (graph, arena) = self.parser.finish()?;
        let ops = match self.ops {
            Some(ops) => ops,
            None => resolve_ops(&graph)?,
        };
        let arena = ArenaSources::new(arena)?;
        let program = Program::assemble(graph, ops, &|c| arena.locate(c), self.prebuilt)?;
        Ok((program, self.early))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_torch_format::{DType, Dim, Function, Instr, Operand, Signature, ValueSpec};
    use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};

    /// `y = x + w0 + w1 + w2`, each weight in its own chunk.
    fn model() -> ModelIr {
        let spec = |name: &str| ValueSpec {
            name: name.into(),
            dtype: DType::F32,
            shape: vec![Dim::Fixed(4)],
        };
        let add = |a: Operand, w: u32, out: u32| Instr::CallOp {
            op: 0,
            args: vec![a, Operand::Weight(w)],
            outputs: vec![out],
        };
        ModelIr {
            signature: Signature {
                inputs: vec![spec("x")],
                outputs: vec![spec("y")],
            },
            ops: vec!["aten::add.Tensor".into()],
            functions: vec![Function {
                name: "forward".into(),
                num_registers: 4,
                params: vec![0],
                register_names: vec![],
                code: vec![
                    add(Operand::Reg(0), 0, 1),
                    add(Operand::Reg(1), 1, 2),
                    add(Operand::Reg(2), 2, 3),
                    Instr::Return {
                        values: vec![Operand::Reg(3)],
                    },
                ],
            }],
            weights: (0..3u8)
                .map(|i| WeightIr {
                    name: format!("w{i}"),
                    dtype: DType::F32,
                    shape: vec![4],
                    data: (0..4)
                        .flat_map(|j| (f32::from(10 * i + j)).to_le_bytes())
                        .collect(),
                    encoding: WeightEncoding::AsIs,
                })
                .collect(),
            ..ModelIr::default()
        }
    }

    /// However the arena is segmented (one segment per chunk, or all in one), every weight
    /// views the right bytes, 64-byte aligned, and the program computes the same result.
    #[test]
    fn any_segmentation_loads_the_same_weights() {
        for compression in [Compression::Never, Compression::Always] {
            let opts = PackOptions {
                chunk_target: 16,
                compression,
                zstd_level: 3,
            };
            let bytes = pack(&model(), &opts).unwrap();
            for seg in [0u64, 64, 128, wasm_torch_format::SEGMENT_TARGET] {
                let mut loader = StreamingLoader::new().with_segment_target(seg);
                for piece in bytes.chunks(5) {
                    loader.feed(piece).unwrap();
                }
                let p = loader.finish().unwrap();
                assert_eq!(p.graph().chunks.len(), 3);
                for (i, w) in p.weights().iter().enumerate() {
                    let want: Vec<f32> = (0..4).map(|j| (10 * i + j) as f32).collect();
                    assert_eq!(w.to_f32_vec(), want, "segment target {seg}, w{i}");
                    assert_eq!(w.data_ptr() % 64, 0);
                }
                let mut s = crate::Session::new(std::sync::Arc::new(p)).unwrap();
                let y = s
                    .run_positional(vec![crate::Tensor::from_f32(vec![4], vec![1.0; 4])])
                    .unwrap();
                assert_eq!(y[0].to_f32_vec(), vec![31.0, 34.0, 37.0, 40.0]);
            }
        }
    }

    fn input_x() -> Vec<(String, crate::Tensor)> {
        vec![(
            "x".into(),
            crate::Tensor::from_f32(vec![4], vec![1.0, 2.0, 3.0, 4.0]),
        )]
    }

    /// Fed one byte at a time, the run starts when the graph arrives and instruction k
    /// (which reads w_k) runs exactly when chunk k arrived; the outputs are the bits of a
    /// run after the load.
    #[test]
    fn a_run_while_loading_waits_only_for_its_weights() {
        for compression in [Compression::Never, Compression::Always] {
            let opts = PackOptions {
                chunk_target: 16,
                compression,
                zstd_level: 3,
            };
            let bytes = pack(&model(), &opts).unwrap();
            let mut loader = StreamingLoader::new().run_while_loading(input_x()).unwrap();
            let mut seen = Vec::new();
            for b in bytes.chunks(1) {
                let p = loader.feed(b).unwrap();
                let pos = loader.run_position();
                if !p.graph_ready {
                    assert_eq!(pos, None);
                } else if p.chunks_ready < 3 {
                    assert_eq!(pos, Some(p.chunks_ready as usize), "{compression:?}");
                }
                if seen.last() != Some(&pos) {
                    seen.push(pos);
                }
            }
            assert_eq!(seen, vec![None, Some(0), Some(1), Some(2), None]);
            let (program, first) = loader.finish_run().unwrap();
            let first = first.unwrap();
            let mut fresh = crate::Session::new(program).unwrap();
            let want = fresh
                .run(&[(
                    "x",
                    crate::Tensor::from_f32(vec![4], vec![1.0, 2.0, 3.0, 4.0]),
                )])
                .unwrap();
            assert_eq!(first.outputs[0].0, "y");
            assert_eq!(
                first.outputs[0].1.to_f32_vec(),
                vec![31.0, 35.0, 39.0, 43.0]
            );
            assert_eq!(first.outputs[0].1.to_f32_vec(), want[0].1.to_f32_vec());
            // The session that ran keeps working on the finished program.
            let mut s = first.session;
            let again = s
                .run(&[("x", crate::Tensor::from_f32(vec![4], vec![1.0; 4]))])
                .unwrap();
            assert_eq!(again[0].1.to_f32_vec(), vec![31.0, 34.0, 37.0, 40.0]);
        }
    }

    /// Inputs that do not fit fail the load as soon as the graph arrives, with the error a
    /// run gives; a file cut short or corrupted after the run started fails as without one.
    #[test]
    fn a_run_while_loading_fails_the_load_with_typed_errors() {
        let opts = PackOptions {
            chunk_target: 16,
            compression: Compression::Never,
            zstd_level: 3,
        };
        let bytes = pack(&model(), &opts).unwrap();
        let graph_end = usize::try_from(
            wasm_torch_format::parse_file(&bytes, &Limits::default())
                .unwrap()
                .chunks[0]
                .file_offset,
        )
        .unwrap();
        let bad_inputs: Vec<Vec<(String, crate::Tensor)>> = vec![
            vec![],
            vec![("z".into(), crate::Tensor::from_f32(vec![4], vec![0.0; 4]))],
            vec![("x".into(), crate::Tensor::from_f32(vec![5], vec![0.0; 5]))],
            vec![("x".into(), crate::Tensor::from_i64(vec![4], vec![0; 4]))],
        ];
        for inputs in bad_inputs {
            let mut loader = StreamingLoader::new().run_while_loading(inputs).unwrap();
            let e = loader.feed(&bytes[..graph_end]).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{e}");
            assert!(
                loader.feed(&bytes[graph_end..]).is_err(),
                "the load stays failed"
            );
        }
        // Cut short: the run waits, finish reports the truncated file.
        let mut loader = StreamingLoader::new().run_while_loading(input_x()).unwrap();
        loader.feed(&bytes[..bytes.len() - 8]).unwrap();
        assert_eq!(loader.run_position(), Some(2));
        let e = loader.finish_run().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::BadFile, "{e}");
        // A corrupted last chunk: its CRC fails the feed.
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        let mut loader = StreamingLoader::new().run_while_loading(input_x()).unwrap();
        let e = loader.feed(&bad).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::BadFile, "{e}");
        // Asked for after bytes were fed: refused.
        let mut loader = StreamingLoader::new();
        loader.feed(&bytes[..4]).unwrap();
        assert!(loader.run_while_loading(input_x()).is_err());
    }

    /// A model with session state (its initial value a weight) runs when the load ends, and
    /// the returned session carries the state the run wrote.
    #[test]
    fn a_stateful_model_runs_when_the_load_ends() {
        use wasm_torch_test_support::fixtures::kv_cache;
        let init: Vec<f32> = (0..32).map(|i| -(i as f32)).collect();
        let ir = kv_cache::model(
            vec![1, 8, 4],
            wasm_torch_format::StateInit::Tensor(0),
            &init,
        );
        let bytes = pack(&ir, &PackOptions::default()).unwrap();
        let inputs = || {
            vec![
                ("pos".to_string(), crate::Tensor::from_i64(vec![1], vec![3])),
                (
                    "x".to_string(),
                    crate::Tensor::from_f32(vec![1, 1, 4], vec![7.0; 4]),
                ),
            ]
        };
        let mut loader = StreamingLoader::new().run_while_loading(inputs()).unwrap();
        for piece in bytes.chunks(9) {
            loader.feed(piece).unwrap();
            assert_eq!(
                loader.run_position(),
                None,
                "a stateful model does not start early"
            );
        }
        let (program, first) = loader.finish_run().unwrap();
        let first = first.unwrap();
        let mut fresh = crate::Session::new(program).unwrap();
        let owned = inputs();
        let named: Vec<(&str, crate::Tensor)> =
            owned.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        let want = fresh.run(&named).unwrap();
        assert_eq!(first.outputs[0].1.to_f32_vec(), want[0].1.to_f32_vec());
        assert_eq!(first.outputs[0].1.to_f32_vec()[12..16], [14.0; 4]);
        assert_eq!(
            first.session.states()[0].to_f32_vec(),
            fresh.states()[0].to_f32_vec()
        );
    }

    /// A flipped weight byte fails the chunk's CRC by default; a loader told to skip the chunk
    /// CRCs (its caller checks a whole-file digest instead) loads the changed bytes as they are.
    #[test]
    fn chunk_crcs_are_checked_unless_skipped() {
        let opts = PackOptions {
            chunk_target: 16,
            compression: Compression::Never,
            zstd_level: 3,
        };
        let mut bytes = pack(&model(), &opts).unwrap();
        let twenty = 20.0f32.to_le_bytes();
        let at = bytes
            .windows(4)
            .position(|w| w == twenty)
            .expect("w2's first value is stored as is");
        bytes[at + 3] ^= 0x01;
        let mut checked = StreamingLoader::new();
        let msg = checked
            .feed(&bytes)
            .expect_err("the chunk CRC catches the flip")
            .to_string();
        assert!(msg.contains("CRC"), "{msg}");
        let mut trusting = StreamingLoader::new().without_chunk_crcs();
        trusting.feed(&bytes).unwrap();
        let p = trusting.finish().unwrap();
        let w2 = p.weights()[2].to_f32_vec();
        assert_ne!(w2[0], 20.0);
        assert_eq!(&w2[1..], &[21.0, 22.0, 23.0]);
    }

    /// A Linear stack whose int8 weights (per output channel) each have a chunk of their
    /// own: streamed, every such chunk is packed on arrival and released, and the program
    /// computes what the whole-file load computes.
    #[test]
    fn int8_chunks_are_packed_as_they_stream_and_released() {
        use wasm_torch_format::ConstValue;
        let (k, n) = (8usize, 4usize);
        let spec = |name: &str, d: u64| ValueSpec {
            name: name.into(),
            dtype: DType::F32,
            shape: vec![
                wasm_torch_format::Dim::Fixed(2),
                wasm_torch_format::Dim::Fixed(d),
            ],
        };
        let weight = |i: usize, rows: usize, cols: usize| WeightIr {
            name: format!("w{i}"),
            dtype: DType::F32,
            shape: vec![rows as u64, cols as u64],
            data: (0..rows * cols)
                .flat_map(|j| (((j * 7 + i * 3) % 11) as f32 * 0.25 - 1.0).to_le_bytes())
                .collect(),
            encoding: WeightEncoding::Int8PerChannel { axis: 0 },
        };
        let linear = |x: u32, w: u32, out: u32| Instr::CallOp {
            op: 0,
            args: vec![Operand::Reg(x), Operand::Weight(w), Operand::Const(0)],
            outputs: vec![out],
        };
        let ir = ModelIr {
            signature: Signature {
                inputs: vec![spec("x", k as u64)],
                outputs: vec![spec("y", n as u64)],
            },
            ops: vec!["aten::linear.default".into()],
            constants: vec![ConstValue::None],
            functions: vec![Function {
                name: "forward".into(),
                num_registers: 3,
                params: vec![0],
                register_names: vec![],
                code: vec![
                    linear(0, 0, 1),
                    linear(1, 1, 2),
                    Instr::Return {
                        values: vec![Operand::Reg(2)],
                    },
                ],
            }],
            weights: vec![weight(0, k, k), weight(1, n, k)],
            ..ModelIr::default()
        };
        let opts = PackOptions {
            chunk_target: 16,
            compression: Compression::Never,
            zstd_level: 3,
        };
        let bytes = pack(&ir, &opts).unwrap();
        let x = crate::Tensor::from_f32(
            vec![2, k],
            (0..2 * k).map(|i| i as f32 * 0.5 - 3.0).collect(),
        );
        let run = |p: Program| {
            let mut s = crate::Session::new(std::sync::Arc::new(p)).unwrap();
            s.run_positional(vec![x.clone()]).unwrap()[0].to_f32_vec()
        };
        let whole = run(Program::from_bytes(&bytes).unwrap());
        let mut loader = StreamingLoader::new();
        for piece in bytes.chunks(7) {
            loader.feed(piece).unwrap();
        }
        let graph = loader.parser.graph().unwrap();
        let arena = loader.parser.arena().unwrap();
        assert_eq!(graph.chunks.len(), 2);
        for c in 0..2 {
            assert!(arena.is_released(c), "chunk {c} was packed and released");
        }
        assert!(loader.prebuilt.iter().all(Option::is_some));
        let streamed = run(loader.finish().unwrap());
        assert_eq!(streamed, whole);
        assert_eq!(whole.len(), 2 * n);
        // The same with a run while loading: packed chunks feed the run.
        let mut loader = StreamingLoader::new()
            .run_while_loading(vec![("x".into(), x.clone())])
            .unwrap();
        for piece in bytes.chunks(7) {
            loader.feed(piece).unwrap();
        }
        let (_, first) = loader.finish_run().unwrap();
        assert_eq!(first.unwrap().outputs[0].1.to_f32_vec(), whole);
    }
}
