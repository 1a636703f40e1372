//! The streaming loader: bytes go in as they arrive, a [`Model`] comes out.
//!
//! The SDK reads the file as a stream (fetch body, Node file stream, ...) and calls
//! [`Loader::feed`] with each piece. The interpreter's incremental parser makes the graph
//! available before the weights and decompresses each weight chunk straight into its final
//! slot, so peak memory stays near the weights' size plus one chunk.

use crate::digest::FileDigest;
use crate::error::{from_interp, invalid_input, js_error};
use crate::session::Model;
use crate::tensor_io::read_input;
use js_sys::Array;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_torch_interp::{LoadProgress, StreamingLoader};

/// Progress after a [`Loader::feed`] call.
#[wasm_bindgen]
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Bytes consumed so far.
    #[wasm_bindgen(readonly, js_name = bytesConsumed)]
    pub bytes_consumed: f64,
    /// Total file size once the header declared it, else -1.
    #[wasm_bindgen(readonly, js_name = totalBytes)]
    pub total_bytes: f64,
    /// True once the graph (everything before the weights) is parsed and validated.
    #[wasm_bindgen(readonly, js_name = graphReady)]
    pub graph_ready: bool,
    /// Weight chunks decoded into the arena so far.
    #[wasm_bindgen(readonly, js_name = chunksReady)]
    pub chunks_ready: u32,
    /// Weight chunks in the file (0 until the graph is ready).
    #[wasm_bindgen(readonly, js_name = chunksTotal)]
    pub chunks_total: u32,
    /// With a run while loading: the entry-function instruction the run waits at for its
    /// weights; -1 before it starts, once it finished, and without a run.
    #[wasm_bindgen(readonly, js_name = runPosition)]
    pub run_position: f64,
}

impl From<&LoadProgress> for Progress {
    fn from(p: &LoadProgress) -> Self {
        Progress {
            run_position: -1.0,
            bytes_consumed: p.bytes_consumed as f64,
            total_bytes: p.total_bytes.map(|t| t as f64).unwrap_or(-1.0),
            graph_ready: p.graph_ready,
            chunks_ready: p.chunks_ready,
            chunks_total: p.chunks_total,
        }
    }
}

/// An incremental `.wtb` parser. After an error or [`Loader::finish`] it refuses more input.
#[wasm_bindgen]
pub struct Loader {
    inner: Option<StreamingLoader>,
    /// A digest of every byte fed, when asked for ([`Loader::with_digest`]).
    digest: Option<FileDigest>,
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl Loader {
    /// A loader waiting for the first bytes of a file.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Loader {
        Loader {
            inner: Some(StreamingLoader::new()),
            digest: None,
        }
    }

    /// A loader that also takes a [`FileDigest`] of the bytes fed (read with
    /// [`Loader::digest`]). `check_chunk_crcs: false` skips the weight chunks' CRC-32s: only
    /// for a file whose digest the caller compares with a digest taken when the same file
    /// passed every CRC (the model cache), before it uses the model.
    #[wasm_bindgen(js_name = withDigest)]
    pub fn with_digest(check_chunk_crcs: bool) -> Loader {
        let inner = StreamingLoader::new();
        Loader {
            inner: Some(if check_chunk_crcs {
                inner
            } else {
                inner.without_chunk_crcs()
            }),
            digest: Some(FileDigest::new()),
        }
    }

    /// The digest of the bytes fed so far (32 hex digits), or `undefined` for a loader made
    /// without one. Still answers after [`Loader::finish`].
    pub fn digest(&self) -> Option<String> {
        self.digest.as_ref().map(FileDigest::hex)
    }

    /// Feed the next piece of the file (any size, in file order).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Progress, JsValue> {
        let loader = self
            .inner
            .as_mut()
            .ok_or_else(|| js_error("INVALID_INPUT", "loader already finished or failed"))?;
        if let Some(d) = self.digest.as_mut() {
            d.update(bytes);
        }
        match loader.feed(bytes) {
            Ok(p) => Ok(Progress {
                run_position: loader.run_position().map_or(-1.0, |pc| pc as f64),
                ..Progress::from(&p)
            }),
            Err(e) => {
                // A failed loader's state is unspecified: drop it (and its arena) now.
                self.inner = None;
                Err(from_interp(e))
            }
        }
    }

    /// Run the model on `inputs` (`[{name, dtype, shape, bytes}]`, as `Session.run` takes
    /// them) while it loads: the run starts once the graph is validated and each op waits
    /// only for its own weights; [`Model::take_first_outputs`] gives the outputs. Call before
    /// the first `feed`. Inputs that do not fit make the `feed` that completes the graph fail
    /// with `INVALID_INPUT`; an error of the run fails the load with the run's error.
    /// `prepack_budget`: the session's packed-weight budget (`setPrepackBudget`), when set.
    #[wasm_bindgen(js_name = runWhileLoading)]
    pub fn run_while_loading(
        &mut self,
        inputs: Array,
        prepack_budget: Option<f64>,
    ) -> Result<(), JsValue> {
        let mut named = Vec::with_capacity(inputs.length() as usize);
        for item in inputs.iter() {
            if !item.is_object() {
                return Err(invalid_input("each input must be an object"));
            }
            named.push(read_input(&item)?);
        }
        let loader = self
            .inner
            .take()
            .ok_or_else(|| js_error("INVALID_INPUT", "loader already finished or failed"))?;
        let mut loader = loader.run_while_loading(named).map_err(from_interp)?;
        if let Some(b) = prepack_budget {
            if !(b >= 0.0 && b.is_finite()) {
                return Err(invalid_input(
                    "prepackBudget must be a non-negative number of bytes",
                ));
            }
            loader.set_run_prepack_budget(b.min(usize::MAX as f64) as usize);
        }
        self.inner = Some(loader);
        Ok(())
    }

    /// End of input: returns the validated model, or `BAD_FILE` when the file was truncated.
    pub fn finish(&mut self) -> Result<Model, JsValue> {
        let loader = self
            .inner
            .take()
            .ok_or_else(|| js_error("INVALID_INPUT", "loader already finished or failed"))?;
        let (program, first) = loader.finish_run().map_err(from_interp)?;
        Ok(Model::with_first_run(program, first))
    }

    /// Parse a whole file already in memory (the non-streaming path).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, JsValue> {
        let program = wasm_torch_interp::Program::from_bytes(bytes).map_err(from_interp)?;
        Ok(Model::new(Arc::new(program)))
    }
}
