//! End-to-end: pack small models with the packer, load them every way (bytes, memory map,
//! stream), run them and compare with hand-computed references.

use std::sync::Arc;

use wasm_torch_format::{ConstValue, Function, Instr, Operand};
use wasm_torch_interp::{DType, ErrorKind, Program, Session, StreamingLoader, Tensor};
use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding};
use wasm_torch_test_support::{f32_weight_encoded, fixed, sym, ModelBuilder};

fn seq(n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 5 % 13) as f32 - 6.0) * scale)
        .collect()
}

// out channels x in channels x kernel h x kernel w = 2 x 1 x 2 x 2
const CONV_W: usize = 8;
const LIN_IN: usize = 2 * 3 * 3;

/// conv(1→2, 2x2) → relu → flatten → linear(18→3); input [batch, 1, 4, 4].
fn conv_model(encoding: WeightEncoding) -> ModelIr {
    let mut m = ModelBuilder::new("conv").name_registers();
    let x = m.input(
        "x",
        DType::F32,
        vec![sym("batch"), fixed(1), fixed(4), fixed(4)],
    );
    let w = |name: &str, shape: &[u64], v: &[f32], enc| f32_weight_encoded(name, shape, v, enc);
    let cw = m.weight(w("conv.weight", &[2, 1, 2, 2], &seq(CONV_W, 0.1), encoding));
    let cb = m.weight(w("conv.bias", &[2], &[0.05, -0.1], WeightEncoding::AsIs));
    let fw = m.weight(w(
        "fc.weight",
        &[3, LIN_IN as u64],
        &seq(3 * LIN_IN, 0.02),
        encoding,
    ));
    let fb = m.weight(w("fc.bias", &[3], &[0.1, 0.2, 0.3], WeightEncoding::AsIs));
    let ones = m.constant(ConstValue::Ints(vec![1, 1]));
    let zeros = m.constant(ConstValue::Ints(vec![0, 0]));
    let no = m.constant(ConstValue::Bool(false));
    let one = m.constant(ConstValue::Int(1));
    let minus_one = m.constant(ConstValue::Int(-1));
    // convolution(input, weight, bias, stride, padding, dilation, transposed,
    // output_padding, groups)
    let conv = m.call_named(
        "conv",
        "aten::convolution.default",
        &[x, cw, cb, ones, zeros, ones, no, zeros, one],
    );
    let relu = m.call_named("relu", "aten::relu.default", &[conv]);
    let flat = m.call_named("flat", "aten::flatten.using_ints", &[relu, one, minus_one]);
    let logits = m.call_named("linear", "aten::linear.default", &[flat, fw, fb]);
    m.output("logits", DType::F32, vec![sym("batch"), fixed(3)], logits);
    m.build()
}

/// Straightforward reference of `conv_model` for one image.
fn conv_reference(x: &[f32]) -> Vec<f32> {
    let w = seq(CONV_W, 0.1);
    let b = [0.05, -0.1];
    let mut feat = [0f32; LIN_IN];
    for o in 0..2 {
        for i in 0..3 {
            for j in 0..3 {
                let mut s = b[o];
                for di in 0..2 {
                    for dj in 0..2 {
                        s += x[(i + di) * 4 + j + dj] * w[o * 4 + di * 2 + dj];
                    }
                }
                feat[o * 9 + i * 3 + j] = s.max(0.0);
            }
        }
    }
    let fw = seq(3 * LIN_IN, 0.02);
    (0..3)
        .map(|n| {
            [0.1, 0.2, 0.3][n]
                + (0..LIN_IN)
                    .map(|k| feat[k] * fw[n * LIN_IN + k])
                    .sum::<f32>()
        })
        .collect()
}

fn input(batch: usize) -> Tensor {
    Tensor::from_f32(vec![batch, 1, 4, 4], seq(batch * 16, 0.3))
}

fn check(out: &Tensor, batch: usize, tol: f32) {
    assert_eq!(out.shape(), &[batch, 3]);
    let x = input(batch).to_f32_vec();
    let got = out.to_f32_vec();
    for b in 0..batch {
        let want = conv_reference(&x[b * 16..(b + 1) * 16]);
        for (g, w) in got[b * 3..b * 3 + 3].iter().zip(&want) {
            assert!((g - w).abs() <= tol, "got {g}, want {w}");
        }
    }
}

fn pack_with(ir: &ModelIr, compression: Compression) -> Vec<u8> {
    pack(
        ir,
        &PackOptions {
            chunk_target: 64,
            compression,
            zstd_level: 3,
        },
    )
    .unwrap()
}

#[test]
fn conv_relu_linear_from_bytes_with_dynamic_batch() {
    for compression in [Compression::Never, Compression::Always] {
        let bytes = pack_with(&conv_model(WeightEncoding::AsIs), compression);
        let program = Arc::new(Program::from_bytes(&bytes).unwrap());
        assert_eq!(program.inputs()[0].name, "x");
        assert_eq!(
            program.weight_bytes(),
            ((CONV_W + 2 + 3 * LIN_IN + 3) * 4) as u64
        );
        let mut s = Session::new(program).unwrap();
        for batch in [1, 3, 2] {
            let out = s.run(&[("x", input(batch))]).unwrap();
            assert_eq!(out[0].0, "logits");
            check(&out[0].1, batch, 1e-5);
        }
    }
}

#[test]
fn from_path_maps_and_stream_loads() {
    let bytes = pack_with(&conv_model(WeightEncoding::AsIs), Compression::Never);
    let path =
        std::env::temp_dir().join(format!("wasm-torch-interp-test-{}.wtb", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let program = Program::from_path(&path).unwrap();
    let mut s = Session::new(Arc::new(program)).unwrap();
    check(&s.run_positional(vec![input(2)]).unwrap()[0], 2, 1e-5);
    std::fs::remove_file(&path).ok();

    let zbytes = pack_with(&conv_model(WeightEncoding::AsIs), Compression::Always);
    for piece in [1usize, 7, 4096] {
        let mut loader = StreamingLoader::new();
        let mut saw_graph_before_end = false;
        for chunk in zbytes.chunks(piece) {
            let p = loader.feed(chunk).unwrap();
            if p.graph_ready && p.chunks_ready < p.chunks_total {
                saw_graph_before_end = true;
            }
        }
        let progress = loader.progress();
        assert_eq!(progress.bytes_consumed, zbytes.len() as u64);
        assert_eq!(progress.chunks_ready, progress.chunks_total);
        assert!(saw_graph_before_end || piece == 4096);
        let program = loader.finish().unwrap();
        let mut s = Session::new(Arc::new(program)).unwrap();
        check(&s.run_positional(vec![input(1)]).unwrap()[0], 1, 1e-5);
    }
}

#[test]
fn quantised_weights_are_dequantised_at_load() {
    for (enc, tol) in [
        (WeightEncoding::F16, 2e-3),
        (WeightEncoding::Int8PerTensor, 2e-2),
        (WeightEncoding::Int8PerChannel { axis: 0 }, 2e-2),
    ] {
        let bytes = pack_with(&conv_model(enc), Compression::Auto);
        let mut s = Session::new(Arc::new(Program::from_bytes(&bytes).unwrap())).unwrap();
        check(&s.run_positional(vec![input(2)]).unwrap()[0], 2, tol);
    }
}

#[test]
fn bad_inputs_are_rejected_with_what_was_expected() {
    let bytes = pack_with(&conv_model(WeightEncoding::AsIs), Compression::Never);
    let mut s = Session::new(Arc::new(Program::from_bytes(&bytes).unwrap())).unwrap();
    let e = s.run(&[("y", input(1))]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.message().contains("unknown input 'y'") && e.message().contains("x: f32[batch, 1, 4, 4]"),
        "{e}"
    );
    let e = s.run(&[]).unwrap_err();
    assert!(e.message().contains("missing input 'x'"), "{e}");
    let e = s
        .run_positional(vec![Tensor::from_i64(vec![1, 1, 4, 4], vec![0; 16])])
        .unwrap_err();
    assert!(e.message().contains("dtype i64"), "{e}");
    let e = s
        .run_positional(vec![Tensor::from_f32(vec![1, 1, 5, 4], vec![0.0; 20])])
        .unwrap_err();
    assert!(e.message().contains("size 5 in dim 2"), "{e}");
    let e = s
        .run_positional(vec![Tensor::from_f32(vec![1, 4, 4], vec![0.0; 16])])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn unsupported_ops_are_all_listed_before_weights_load() {
    let mut ir = conv_model(WeightEncoding::AsIs);
    ir.ops[1] = "aten::frobnicate.default".into();
    ir.ops[2] = "custom::thing.default".into();
    let bytes = pack_with(&ir, Compression::Always);
    let e = Program::from_bytes(&bytes).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedOps);
    assert!(e.message().contains("aten::frobnicate.default (x1)"), "{e}");
    assert!(e.message().contains("custom::thing.default (x1)"), "{e}");
    // streaming: refused as soon as the graph is parsed, before the weights arrive
    let mut loader = StreamingLoader::new();
    let mut failed_at = None;
    for (i, chunk) in bytes.chunks(16).enumerate() {
        if let Err(e) = loader.feed(chunk) {
            assert_eq!(e.kind(), ErrorKind::UnsupportedOps);
            failed_at = Some(i * 16);
            break;
        }
    }
    let at = failed_at.expect("the stream should fail at the graph");
    assert!(
        at < bytes.len() - 64,
        "failed only at byte {at} of {}",
        bytes.len()
    );
}

#[test]
fn truncated_file_is_bad_file() {
    let bytes = pack_with(&conv_model(WeightEncoding::AsIs), Compression::Never);
    let e = Program::from_bytes(&bytes[..bytes.len() - 10]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadFile);
    let mut loader = StreamingLoader::new();
    loader.feed(&bytes[..bytes.len() / 2]).unwrap();
    assert!(loader.finish().is_err());
}

#[test]
fn profile_and_trace() {
    let bytes = pack_with(&conv_model(WeightEncoding::AsIs), Compression::Never);
    let mut s = Session::new(Arc::new(Program::from_bytes(&bytes).unwrap())).unwrap();
    s.set_profiling(true);
    s.set_trace(true);
    s.run_positional(vec![input(2)]).unwrap();
    s.run_positional(vec![input(2)]).unwrap();
    let p = s.profile().unwrap().clone();
    assert_eq!(p.runs, 2);
    assert!(p.ops.iter().all(|o| o.calls == 2), "{p:?}");
    assert!(p.timed);
    // conv output [2,2,3,3] f32 = 144 bytes is the largest intermediate; the input is 128
    assert!(p.planned_peak_bytes >= 144, "{p:?}");
    assert!(p.actual_peak_bytes >= p.planned_peak_bytes);
    let trace = s.take_trace();
    let names: Vec<&str> = trace.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(&names[..4], &["conv", "relu", "flat", "linear"]);
    assert_eq!(trace[0].1.shape(), &[2, 2, 3, 3]);
    assert_eq!(trace.len(), 8);
    assert!(s.take_trace().is_empty());
}

/// A scripted model: `for i in range(n): x = x * 2`, then `helper(x)` which returns
/// `x + 1` if `x.sum() > 0` else `x - 1` (a data-dependent branch in a called function).
fn loop_model() -> ModelIr {
    use Operand::Reg;
    let call = |op: u32, args: Vec<Operand>, out: u32| Instr::CallOp {
        op,
        args,
        outputs: vec![out],
    };
    let mut m = ModelBuilder::new("loop");
    let x = m.input("x", DType::F32, vec![sym("n")]);
    let steps = m.input("steps", DType::I64, vec![]);
    let zero_i = m.constant(ConstValue::Int(0));
    let two = m.constant(ConstValue::Float(2.0));
    let one = m.constant(ConstValue::Int(1));
    let none = m.constant(ConstValue::None);
    let (i, acc) = (m.register("i"), m.register("acc"));
    let Operand::Const(zero_index) = zero_i else {
        unreachable!("constants are Const operands")
    };
    m.push(Instr::LoadConst {
        dst: i,
        index: zero_index,
    });
    m.push(Instr::Move { dst: acc, src: x });
    let n = m.call("aten::Int.Tensor", &[steps]);
    let head = m.next_index();
    let more = m.call("aten::lt.int", &[Reg(i), n]);
    let exit = m.push(Instr::Jump { target: 0 }); // patched below
    m.call_into("aten::mul.Tensor", &[Reg(acc), two], &[acc]);
    m.call_into("aten::add.int", &[Reg(i), one], &[i]);
    m.push(Instr::Jump { target: head });
    let after = m.next_index();
    m.patch(
        exit,
        Instr::JumpIfNot {
            cond: more,
            target: after,
        },
    );
    let y = m.register("y");
    m.push(Instr::CallFunction {
        function: 1,
        args: vec![Reg(acc)],
        outputs: vec![y],
    });
    m.output("y", DType::F32, vec![sym("n")], Reg(y));
    // helper(x): x + 1 if x.sum() > 0 else x - 1; registers x, sum, cond, result.
    let (sum, gt) = (m.op("aten::sum.default"), m.op("aten::gt.Scalar"));
    let (add, sub) = (m.op("aten::add.Scalar"), m.op("aten::sub.Scalar"));
    m.function(Function {
        name: "helper".into(),
        num_registers: 4,
        params: vec![0],
        register_names: vec![],
        code: vec![
            /* 0 */ call(sum, vec![Reg(0), none], 1),
            /* 1 */ call(gt, vec![Reg(1), zero_i], 2),
            /* 2 */
            Instr::JumpIfNot {
                cond: Reg(2),
                target: 5,
            },
            /* 3 */ call(add, vec![Reg(0), one, one], 3),
            /* 4 */ Instr::Return {
                values: vec![Reg(3)],
            },
            /* 5 */ call(sub, vec![Reg(0), one, one], 3),
            /* 6 */ Instr::Return {
                values: vec![Reg(3)],
            },
        ],
    });
    m.build()
}

#[test]
fn scripted_loop_and_branch() {
    let bytes = pack_with(&loop_model(), Compression::Never);
    let mut s = Session::new(Arc::new(Program::from_bytes(&bytes).unwrap())).unwrap();
    let run = |s: &mut Session, x: Vec<f32>, n: i64| {
        let len = x.len();
        s.run(&[
            ("x", Tensor::from_f32(vec![len], x)),
            ("steps", Tensor::from_i64(vec![], vec![n])),
        ])
        .unwrap()
        .remove(0)
        .1
        .to_f32_vec()
    };
    assert_eq!(run(&mut s, vec![1.0, 2.0], 3), vec![9.0, 17.0]);
    assert_eq!(run(&mut s, vec![-1.0, 0.5, 0.0], 1), vec![-3.0, 0.0, -1.0]);
    assert_eq!(run(&mut s, vec![0.5], 0), vec![1.5]);
    // a runaway loop hits the step limit instead of hanging
    s.set_step_limit(1000);
    let e = s
        .run(&[
            ("x", Tensor::from_f32(vec![1], vec![1.0])),
            ("steps", Tensor::from_i64(vec![], vec![1 << 40])),
        ])
        .unwrap_err();
    assert!(e.message().contains("step limit"), "{e}");
}

#[test]
fn program_is_shareable_and_sessions_are_sendable() {
    fn shareable<T: Send + Sync>() {}
    fn sendable<T: Send>() {}
    shareable::<Program>();
    shareable::<Tensor>();
    sendable::<Session>();
    sendable::<StreamingLoader>();
    // two sessions over one program run independently
    let bytes = pack_with(&conv_model(WeightEncoding::AsIs), Compression::Never);
    let program = Arc::new(Program::from_bytes(&bytes).unwrap());
    let mut a = Session::new(program.clone()).unwrap();
    let mut b = Session::new(program).unwrap();
    check(&a.run_positional(vec![input(1)]).unwrap()[0], 1, 1e-5);
    check(&b.run_positional(vec![input(3)]).unwrap()[0], 3, 1e-5);
    assert!(!wasm_torch_interp::supported_ops().is_empty());
}

/// A chain of element-wise ops: the planner frees each intermediate at its last use and the
/// ops reuse the dying buffer, so the whole chain runs in one buffer.
#[test]
fn elementwise_chain_runs_in_one_buffer() {
    let n = 1000usize;
    let steps = 10u32;
    let mut m = ModelBuilder::new("chain");
    let mut v = m.input("x", DType::F32, vec![fixed(n as u64)]);
    for i in 0..steps {
        let op = ["aten::relu.default", "aten::neg.default"][i as usize % 2];
        v = m.call(op, &[v]);
    }
    m.output("y", DType::F32, vec![fixed(n as u64)], v);
    let ir = m.build();
    let bytes = pack_with(&ir, Compression::Never);
    let mut s = Session::new(Arc::new(Program::from_bytes(&bytes).unwrap())).unwrap();
    s.set_profiling(true);
    let x: Vec<f32> = (0..n).map(|i| i as f32 - 500.0).collect();
    let y = s
        .run_positional(vec![Tensor::from_f32(vec![n], x.clone())])
        .unwrap();
    // relu, neg, relu, neg, ... (10 ops) = neg(relu(...)) five times: -max(x, 0) then 0
    let want: Vec<f32> = x.iter().map(|_| 0.0).collect();
    assert_eq!(
        y[0].to_f32_vec()
            .iter()
            .map(|v| v.abs())
            .collect::<Vec<_>>(),
        want
    );
    let p = s.profile().unwrap();
    assert_eq!(p.actual_peak_bytes, (n * 4) as u64, "{p:?}");
    assert_eq!(p.planned_peak_bytes, (n * 4) as u64);
}
