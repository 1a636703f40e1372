//! Allocation-failure stress test: for every N, the N-th fallible allocation of a load and
//! of a run fails (weight-arena segments, tensors, packed weight copies, GEMM scratch). Each
//! failure must be a typed `OutOfMemory` error — or, where the allocation was optional (a
//! packed copy), a correct result — and the program and session must stay usable: the next
//! run without failures gives the reference output. N grows until the N-th allocation is
//! never reached, so every allocation site on the path is failed once.
//!
//! Needs the `failpoints` feature (`cargo test -p wasm-torch-interp --features failpoints
//! --test alloc_failure`). The failpoint is process-wide, so this file holds one test.

use std::sync::Arc;

use wasm_torch_format::{ConstValue, Dim, Function, Instr, Operand, Signature, ValueSpec};
use wasm_torch_interp::failpoint::{count, fail_nth};
use wasm_torch_interp::{DType, ErrorKind, Program, Session, Tensor};
use wasm_torch_packer::{pack, Compression, ModelIr, PackOptions, WeightEncoding, WeightIr};

fn seq(n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7 % 19) as f32 - 9.0) * scale)
        .collect()
}

fn weight(name: &str, shape: Vec<u64>, scale: f32) -> WeightIr {
    let n: u64 = shape.iter().product();
    WeightIr {
        name: name.into(),
        dtype: DType::F32,
        shape,
        data: seq(n as usize, scale)
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
        encoding: WeightEncoding::AsIs,
    }
}

fn spec(name: &str, shape: &[u64]) -> ValueSpec {
    ValueSpec {
        name: name.into(),
        dtype: DType::F32,
        shape: shape.iter().map(|&d| Dim::Fixed(d)).collect(),
    }
}

fn call(op: u32, args: Vec<Operand>, out: u32) -> Instr {
    Instr::CallOp {
        op,
        args,
        outputs: vec![out],
    }
}

/// A model `forward(x) -> y` with the given ops, constants, code and weights.
fn model(
    x: &[u64],
    y: &[u64],
    ops: &[&str],
    constants: Vec<ConstValue>,
    code: Vec<Instr>,
    weights: Vec<WeightIr>,
) -> ModelIr {
    let regs = code.len() as u32 + 1;
    let mut code = code;
    code.push(Instr::Return {
        values: vec![Operand::Reg(regs - 1)],
    });
    ModelIr {
        signature: Signature {
            inputs: vec![spec("x", x)],
            outputs: vec![spec("y", y)],
        },
        ops: ops.iter().map(|s| s.to_string()).collect(),
        constants,
        functions: vec![Function {
            name: "forward".into(),
            num_registers: regs,
            params: vec![0],
            register_names: vec![],
            code,
        }],
        weights,
        ..ModelIr::default()
    }
}

/// conv(3→8, 3x3, pad 1) → relu → flatten → linear(8·8·8 → 10); x [1, 3, 8, 8].
fn conv_linear() -> (ModelIr, Vec<u64>) {
    use Operand::{Const as C, Reg as R, Weight as W};
    let ints = |v: &[i64]| ConstValue::Ints(v.to_vec());
    let m = model(
        &[1, 3, 8, 8],
        &[1, 10],
        &[
            "aten::convolution.default",
            "aten::relu.default",
            "aten::flatten.using_ints",
            "aten::linear.default",
        ],
        vec![
            ints(&[1, 1]),
            ints(&[0, 0]),
            ConstValue::Bool(false),
            ConstValue::Int(1),
            ConstValue::Int(-1),
        ],
        vec![
            call(
                0,
                vec![R(0), W(0), W(1), C(0), C(0), C(0), C(2), C(1), C(3)],
                1,
            ),
            call(1, vec![R(1)], 2),
            call(2, vec![R(2), C(3), C(4)], 3),
            call(3, vec![R(3), W(2), W(3)], 4),
        ],
        vec![
            weight("conv.w", vec![8, 3, 3, 3], 0.05),
            weight("conv.b", vec![8], 0.1),
            weight("fc.w", vec![10, 512], 0.01),
            weight("fc.b", vec![10], 0.1),
        ],
    );
    (m, vec![1, 3, 8, 8])
}

/// linear(64→96) → tanh → linear(96→32), on 3 rows: x [3, 64].
fn mlp() -> (ModelIr, Vec<u64>) {
    use Operand::{Reg as R, Weight as W};
    let m = model(
        &[3, 64],
        &[3, 32],
        &["aten::linear.default", "aten::tanh.default"],
        vec![],
        vec![
            call(0, vec![R(0), W(0), W(1)], 1),
            call(1, vec![R(1)], 2),
            call(0, vec![R(2), W(2), Operand::Const(0)], 3),
        ],
        vec![
            weight("l1.w", vec![96, 64], 0.02),
            weight("l1.b", vec![96], 0.1),
            weight("l2.w", vec![32, 96], 0.02),
        ],
    );
    let mut m = m;
    m.constants = vec![ConstValue::None];
    (m, vec![3, 64])
}

/// One attention head: q, k, v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ; softmax(q·kᵀ) · v; x [1, 6, 16].
fn attention() -> (ModelIr, Vec<u64>) {
    use Operand::{Const as C, Reg as R, Weight as W};
    let m = model(
        &[1, 6, 16],
        &[1, 6, 16],
        &[
            "aten::linear.default",
            "aten::transpose.int",
            "aten::matmul.default",
            "aten::softmax.int",
        ],
        vec![ConstValue::None, ConstValue::Int(-2), ConstValue::Int(-1)],
        vec![
            call(0, vec![R(0), W(0), C(0)], 1),
            call(0, vec![R(0), W(1), C(0)], 2),
            call(0, vec![R(0), W(2), C(0)], 3),
            call(1, vec![R(2), C(1), C(2)], 4),
            call(2, vec![R(1), R(4)], 5),
            call(3, vec![R(5), C(2), C(0)], 6),
            call(2, vec![R(6), R(3)], 7),
        ],
        vec![
            weight("wq", vec![16, 16], 0.05),
            weight("wk", vec![16, 16], 0.04),
            weight("wv", vec![16, 16], 0.03),
        ],
    );
    (m, vec![1, 6, 16])
}

fn input(shape: &[u64]) -> Tensor {
    let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let n = shape.iter().product();
    Tensor::from_f32(shape, seq(n, 0.1))
}

fn run(session: &mut Session, x: &Tensor) -> wasm_torch_interp::Result<Vec<f32>> {
    let out = session.run(&[("x", x.clone())])?;
    Ok(out[0].1.to_f32_vec())
}

/// Fail the N-th allocation of `f` for N = 1, 2, ... until it is never reached. Returns
/// how many allocations `f` made. `after` checks that things still work after each N.
fn every_allocation<T>(
    what: &str,
    mut f: impl FnMut() -> wasm_torch_interp::Result<T>,
    mut check_ok: impl FnMut(T),
    mut after: impl FnMut(),
) -> usize {
    for n in 1.. {
        fail_nth(n);
        let r = f();
        let reached = count() >= n;
        fail_nth(0);
        match r {
            Err(e) => {
                assert!(reached, "{what}: error without a failed allocation: {e}");
                assert_eq!(e.kind(), ErrorKind::OutOfMemory, "{what}, N = {n}: {e}");
            }
            // An optional allocation (a packed copy) failed, or none was reached.
            Ok(v) => check_ok(v),
        }
        after();
        if !reached {
            return n - 1;
        }
    }
    unreachable!()
}

#[test]
fn every_allocation_failure_of_a_load_or_a_run_is_typed_and_recoverable() {
    for (name, (ir, x_shape)) in [
        ("conv+linear", conv_linear()),
        ("mlp", mlp()),
        ("attention", attention()),
    ] {
        for compression in [Compression::Never, Compression::Always] {
            let bytes = pack(
                &ir,
                &PackOptions {
                    compression,
                    ..PackOptions::default()
                },
            )
            .unwrap();
            let x = input(&x_shape);
            let program = Arc::new(Program::from_bytes(&bytes).unwrap());
            let want = run(&mut Session::new(program.clone()).unwrap(), &x).unwrap();
            let same = |got: &[f32]| {
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                        "{name}: {g} vs {w}"
                    );
                }
            };

            // Loads.
            let loads = every_allocation(
                name,
                || Program::from_bytes(&bytes),
                |p| same(&run(&mut Session::new(Arc::new(p)).unwrap(), &x).unwrap()),
                || {
                    let p = Arc::new(Program::from_bytes(&bytes).unwrap());
                    same(&run(&mut Session::new(p).unwrap(), &x).unwrap());
                },
            );
            if compression == Compression::Always {
                assert!(loads >= 1, "{name}: a compressed load allocates its arena");
            }

            // First runs (which pack weights) and later runs, with and without pre-packing.
            for budget in [wasm_torch_interp::prepack::DEFAULT_BUDGET, 0] {
                let mut session = Session::new(program.clone()).unwrap();
                session.set_prepack_budget(budget);
                let runs = every_allocation(
                    name,
                    || {
                        let mut fresh = Session::new(program.clone())?;
                        fresh.set_prepack_budget(budget);
                        let first = run(&mut fresh, &x);
                        // A session that failed stays usable: same session, no failure.
                        Ok((first, fresh))
                    },
                    |(first, mut fresh)| {
                        match first {
                            Ok(v) => same(&v),
                            Err(e) => assert_eq!(e.kind(), ErrorKind::OutOfMemory, "{name}: {e}"),
                        }
                        same(&run(&mut fresh, &x).unwrap());
                    },
                    || {},
                );
                // Each op's output, plus a packed copy per weight used by a GEMM when the
                // budget allows.
                let least = if budget > 0 { 4 } else { 2 };
                assert!(runs >= least, "{name}: only {runs} allocations in a run");
                // Runs of a session that has run before (weights already packed).
                run(&mut session, &x).unwrap();
                let session = std::cell::RefCell::new(session);
                let later = every_allocation(
                    name,
                    || run(&mut session.borrow_mut(), &x),
                    |v| same(&v),
                    || same(&run(&mut session.borrow_mut(), &x).unwrap()),
                );
                assert!(later >= 1, "{name}");
                if budget == 0 {
                    assert_eq!(session.borrow().prepacked_bytes(), 0);
                }
            }
        }
    }
}
