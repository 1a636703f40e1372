//! Scalar graph inputs (format 1.1, SPEC.md §4.9): int/float/bool inputs arrive as plain
//! values, a loop runs on them, omitted trailing inputs take the file's defaults, and every
//! wrong argument is an `InvalidInput` error that leaves the session usable.

use std::sync::Arc;

use wasm_torch_format::DType;
use wasm_torch_interp::{ErrorKind, Program, Session, Tensor};
use wasm_torch_test_support::fixtures::scalars::scalar_loop;
use wasm_torch_test_support::pack_default;

fn session(n_default: Option<i64>) -> Session {
    let bytes = pack_default(&scalar_loop(n_default));
    assert_eq!(
        &bytes[8..12],
        &[1, 0, 1, 0],
        "scalar inputs make a 1.1 file"
    );
    Session::new(Arc::new(Program::from_bytes(&bytes).unwrap())).unwrap()
}

fn x() -> Tensor {
    Tensor::from_f32(vec![3], vec![1.0, -2.0, 0.25])
}

fn int(v: i64) -> Tensor {
    Tensor::from_i64(vec![], vec![v])
}

fn float(v: f64) -> Tensor {
    Tensor::from_le_bytes(DType::F64, vec![], &v.to_le_bytes()).unwrap()
}

fn flag(v: bool) -> Tensor {
    Tensor::from_bool(vec![], vec![v])
}

/// What PyTorch computes: f32 additions in order, then the optional negation.
fn expected(n: i64, alpha: f64, neg: bool) -> Vec<f32> {
    x().to_f32_vec()
        .into_iter()
        .map(|mut v| {
            for _ in 0..n {
                v += alpha as f32;
            }
            if neg {
                -v
            } else {
                v
            }
        })
        .collect()
}

fn run(s: &mut Session, inputs: Vec<Tensor>) -> Result<Vec<f32>, wasm_torch_interp::Error> {
    s.run_positional(inputs).map(|o| o[0].to_f32_vec())
}

#[test]
fn loops_on_scalar_inputs_and_takes_defaults() {
    let mut s = session(Some(3));
    assert_eq!(run(&mut s, vec![x()]).unwrap(), expected(3, 0.5, false));
    for n in [0, 1, 7] {
        assert_eq!(
            run(&mut s, vec![x(), int(n)]).unwrap(),
            expected(n, 0.5, false)
        );
    }
    assert_eq!(
        run(&mut s, vec![x(), int(4), float(-1.25)]).unwrap(),
        expected(4, -1.25, false)
    );
    assert_eq!(
        run(&mut s, vec![x(), int(2), float(0.75), flag(true)]).unwrap(),
        expected(2, 0.75, true)
    );
    // A negative trip count runs the body zero times, as `range(-2)` does.
    assert_eq!(
        run(&mut s, vec![x(), int(-2)]).unwrap(),
        expected(0, 0.5, false)
    );
    // Narrower integer and float tensors are accepted for int and float inputs.
    let n32 = Tensor::from_i32(vec![], vec![2]);
    let a32 = Tensor::from_f32(vec![], vec![0.25]);
    assert_eq!(
        run(&mut s, vec![x(), n32, a32]).unwrap(),
        expected(2, 0.25, false)
    );
}

#[test]
fn named_inputs_may_leave_out_trailing_defaults() {
    let mut s = session(Some(3));
    let out = s.run(&[("x", x()), ("n", int(2))]).unwrap();
    assert_eq!(out[0].1.to_f32_vec(), expected(2, 0.5, false));
    let out = s.run(&[("x", x())]).unwrap();
    assert_eq!(out[0].1.to_f32_vec(), expected(3, 0.5, false));
    // Leaving out a defaulted input before a given one is not positional-compatible.
    let e = s.run(&[("x", x()), ("neg", flag(true))]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("missing input 'n'"), "{e}");
}

#[test]
fn wrong_arguments_are_invalid_input_and_the_session_stays_usable() {
    let mut s = session(None);
    let cases: Vec<(Vec<Tensor>, &str)> = vec![
        (vec![x()], "missing input 'n' (it has no default)"),
        (vec![], "missing input 'x' (it has no default)"),
        (
            vec![x(), Tensor::from_i64(vec![2], vec![1, 2])],
            "input 'n' is a scalar (int), not a tensor",
        ),
        (
            vec![x(), float(2.0)],
            "input 'n' is an int, got a f64 value",
        ),
        (
            vec![x(), flag(true)],
            "input 'n' is an int, got a bool value",
        ),
        (
            vec![x(), int(1), float(0.5), float(1.0)],
            "input 'neg' is a bool, got a f64 value",
        ),
        (
            vec![x(), int(1), int(1)],
            "input 'alpha' is a float, got a i64 value",
        ),
        // A scalar where a tensor is expected.
        (vec![float(1.0), int(1)], "input 'x' has dtype f64"),
        (
            vec![Tensor::from_f32(vec![], vec![1.0]), int(1)],
            "input 'x' has shape []",
        ),
        (
            vec![x(), int(1), float(0.5), flag(false), int(9)],
            "expected at most 4 inputs",
        ),
    ];
    for (inputs, want) in cases {
        let e = run(&mut s, inputs).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(want), "{e}\nwant: {want}");
        assert_eq!(
            run(&mut s, vec![x(), int(2)]).unwrap(),
            expected(2, 0.5, false)
        );
    }
    let e = run(&mut s, vec![x()]).unwrap_err();
    assert!(
        e.to_string()
            .contains("[x: f32[k], n: int, alpha: float = 0.5, neg: bool = False]"),
        "{e}"
    );
}

#[test]
fn fixed_inputs_accept_only_their_value() {
    let mut ir = scalar_loop(Some(3));
    ir.scalar_inputs[0].fixed = true;
    let bytes = pack_default(&ir);
    let mut s = Session::new(Arc::new(Program::from_bytes(&bytes).unwrap())).unwrap();
    assert_eq!(run(&mut s, vec![x()]).unwrap(), expected(3, 0.5, false));
    assert_eq!(
        run(&mut s, vec![x(), int(3)]).unwrap(),
        expected(3, 0.5, false)
    );
    let e = run(&mut s, vec![x(), int(4)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("input 'n' is fixed to 3"), "{e}");
    assert!(e.to_string().contains("got 4"), "{e}");
    assert_eq!(
        run(&mut s, vec![x(), int(3)]).unwrap(),
        expected(3, 0.5, false)
    );
}
