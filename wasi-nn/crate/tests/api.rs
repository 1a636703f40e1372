//! End-to-end tests of the WIT-shaped API on the fixture model, one per error code the crate
//! produces.

use wasm_torch_test_support::fixtures::scale_bias_relu as fixture;

use wasm_torch_wasi_nn::{
    load, ErrorCode, ExecutionTarget, Graph, GraphEncoding, GraphRegistry, Tensor, TensorType,
};

fn graph() -> Graph {
    let bytes = fixture::model_bytes();
    load(&[&bytes], GraphEncoding::Pytorch, ExecutionTarget::Cpu).expect("fixture loads")
}

fn x_tensor(batch: u32) -> Tensor {
    Tensor::from_f32(vec![batch, 4], &fixture::input(batch as usize))
}

#[test]
fn computes_both_outputs_by_name_and_index() {
    let g = graph();
    let mut ctx = g.init_execution_context().unwrap();
    for batch in [1u32, 2, 5] {
        ctx.set_input("x", &x_tensor(batch)).unwrap();
        ctx.compute().unwrap();
        let (y, z) = fixture::expected(&fixture::input(batch as usize));
        let got_y = ctx.get_output("y").unwrap();
        assert_eq!(got_y.dimensions(), &[batch, 4]);
        assert_eq!(got_y.ty(), TensorType::Fp32);
        assert_eq!(got_y.to_f32_vec().unwrap(), y);
        assert_eq!(ctx.get_output(1).unwrap().to_f32_vec().unwrap(), z);
        assert_eq!(ctx.get_output("1").unwrap(), ctx.get_output("z").unwrap());
    }
}

#[test]
fn autodetect_and_index_inputs_work() {
    let bytes = fixture::model_bytes();
    let g = load(&[&bytes], GraphEncoding::Autodetect, ExecutionTarget::Cpu).unwrap();
    let mut ctx = g.init_execution_context().unwrap();
    ctx.set_input(0u32, &x_tensor(2)).unwrap();
    let outs = ctx.compute_named(&[]).unwrap();
    let names: Vec<&str> = outs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["y", "z"]);
    assert_eq!(
        outs[0].1.to_f32_vec().unwrap(),
        fixture::expected(&fixture::input(2)).0
    );
}

#[test]
fn load_errors_have_their_codes() {
    let bytes = fixture::model_bytes();
    let code = |r: Result<Graph, wasm_torch_wasi_nn::Error>| r.unwrap_err().code();
    for enc in [
        GraphEncoding::Onnx,
        GraphEncoding::Openvino,
        GraphEncoding::Ggml,
    ] {
        assert_eq!(
            code(load(&[&bytes], enc, ExecutionTarget::Cpu)),
            ErrorCode::InvalidEncoding
        );
    }
    assert_eq!(
        code(load(
            &[b"not a model"],
            GraphEncoding::Autodetect,
            ExecutionTarget::Cpu
        )),
        ErrorCode::InvalidEncoding
    );
    for t in [ExecutionTarget::Gpu, ExecutionTarget::Tpu] {
        assert_eq!(
            code(load(&[&bytes], GraphEncoding::Pytorch, t)),
            ErrorCode::UnsupportedOperation
        );
    }
    assert_eq!(
        code(load(&[], GraphEncoding::Pytorch, ExecutionTarget::Cpu)),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(load(
            &[&bytes, &bytes],
            GraphEncoding::Pytorch,
            ExecutionTarget::Cpu
        )),
        ErrorCode::InvalidArgument
    );
    // Truncated at every tenth byte past the magic: always a typed error, never a panic.
    for cut in (8..bytes.len()).step_by(10) {
        let e = load(
            &[&bytes[..cut]],
            GraphEncoding::Pytorch,
            ExecutionTarget::Cpu,
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "cut at {cut}: {e}");
    }
}

#[test]
fn unsupported_ops_are_unsupported_operation() {
    let bytes = fixture::model_bytes_with_relu("aten::frobnicate.default");
    let e = load(&[&bytes], GraphEncoding::Pytorch, ExecutionTarget::Cpu).unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnsupportedOperation, "{e}");
    assert!(e.data().contains("aten::frobnicate.default"), "{e}");
}

#[test]
fn an_op_failing_at_run_time_is_runtime_error() {
    let bytes = fixture::runtime_error_model_bytes();
    let g = load(&[&bytes], GraphEncoding::Pytorch, ExecutionTarget::Cpu).unwrap();
    let mut ctx = g.init_execution_context().unwrap();
    ctx.set_input("x", &x_tensor(2)).unwrap();
    let e = ctx.compute().unwrap_err();
    assert_eq!(e.code(), ErrorCode::RuntimeError, "{e}");
    assert_eq!(
        ctx.get_output(0).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}

#[test]
fn set_input_errors_have_their_codes() {
    let g = graph();
    let mut ctx = g.init_execution_context().unwrap();
    let cases = [
        (
            "x",
            Tensor::new(vec![2, 4], TensorType::I32, vec![0; 32]),
            ErrorCode::InvalidArgument,
        ),
        (
            "x",
            Tensor::new(vec![8], TensorType::Fp32, vec![0; 32]),
            ErrorCode::InvalidArgument,
        ),
        (
            "x",
            Tensor::new(vec![2, 3], TensorType::Fp32, vec![0; 24]),
            ErrorCode::InvalidArgument,
        ),
        (
            "x",
            Tensor::new(vec![2, 4], TensorType::Fp32, vec![0; 31]),
            ErrorCode::InvalidArgument,
        ),
        // 64 GiB declared, no bytes given: refused before any allocation. Past the
        // interpreter's tensor size limit (2 GiB on wasm32, 16 GiB natively) it is TooLarge;
        // a target with a larger limit would see a length mismatch instead.
        (
            "x",
            Tensor::new(vec![u32::MAX, 4], TensorType::Fp32, vec![]),
            if (u32::MAX as u64) * 4 * 4 > wasm_torch_interp::MAX_TENSOR_BYTES as u64 {
                ErrorCode::TooLarge
            } else {
                ErrorCode::InvalidArgument
            },
        ),
        ("nope", x_tensor(1), ErrorCode::NotFound),
        ("7", x_tensor(1), ErrorCode::NotFound),
    ];
    for (name, t, want) in cases {
        let e = ctx.set_input(name, &t).unwrap_err();
        assert_eq!(e.code(), want, "{name} {t:?}: {e}");
    }
    assert_eq!(
        ctx.set_input(3u32, &x_tensor(1)).unwrap_err().code(),
        ErrorCode::NotFound
    );
}

#[test]
fn compute_and_get_output_ordering_errors() {
    let g = graph();
    let mut ctx = g.init_execution_context().unwrap();
    assert_eq!(
        ctx.compute().unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        ctx.get_output(0).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    ctx.set_input("x", &x_tensor(1)).unwrap();
    ctx.compute().unwrap();
    assert_eq!(ctx.get_output("w").unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(ctx.get_output(2).unwrap_err().code(), ErrorCode::NotFound);
}

#[test]
fn registry_load_by_name() {
    let mut reg = GraphRegistry::new();
    reg.insert("fixture", graph());
    let g = reg.load_by_name("fixture").unwrap();
    let mut ctx = g.init_execution_context().unwrap();
    ctx.set_input("x", &x_tensor(1)).unwrap();
    ctx.compute().unwrap();
    assert_eq!(
        reg.load_by_name("other").unwrap_err().code(),
        ErrorCode::NotFound
    );
}

/// Scalar inputs (format 1.1) are set as 0-d tensors of their dtype; an unset one with a
/// default takes it; a wrong type or rank is `InvalidArgument` at `set-input`.
#[test]
fn scalar_inputs_take_0_d_tensors_and_defaults() {
    use wasm_torch_test_support::fixtures::scalars::scalar_loop;
    let bytes = wasm_torch_test_support::pack_default(&scalar_loop(None));
    let g = load(&[&bytes], GraphEncoding::Pytorch, ExecutionTarget::Cpu).unwrap();
    let mut ctx = g.init_execution_context().unwrap();
    let x = Tensor::from_f32(vec![3], &[1.0, -2.0, 0.25]);
    let int = |v: i64| Tensor::new(vec![], TensorType::I64, v.to_le_bytes().to_vec());
    ctx.set_input("x", &x).unwrap();
    // `n` has no default.
    let e = ctx.compute().unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    assert!(e.to_string().contains("\"n\""), "{e}");
    for n in [0i64, 2, 5] {
        ctx.set_input("n", &int(n)).unwrap();
        ctx.compute().unwrap();
        let want: Vec<f32> = [1.0f32, -2.0, 0.25]
            .iter()
            .map(|&v| (0..n).fold(v, |a, _| a + 0.5))
            .collect();
        assert_eq!(ctx.get_output("y").unwrap().to_f32_vec().unwrap(), want);
    }
    // alpha and neg given explicitly: f64 and bool (u8) 0-d tensors.
    let alpha = Tensor::new(vec![], TensorType::Fp64, 0.25f64.to_le_bytes().to_vec());
    ctx.set_input("alpha", &alpha).unwrap();
    ctx.set_input("neg", &Tensor::new(vec![], TensorType::U8, vec![1]))
        .unwrap();
    ctx.compute().unwrap();
    let want: Vec<f32> = [1.0f32, -2.0, 0.25]
        .iter()
        .map(|&v| -(0..5).fold(v, |a, _| a + 0.25))
        .collect();
    assert_eq!(ctx.get_output("y").unwrap().to_f32_vec().unwrap(), want);
    // A tensor where a scalar is expected, a float for an int, a float for a bool.
    let bad = [
        ("n", Tensor::new(vec![2], TensorType::I64, vec![0; 16])),
        ("n", Tensor::new(vec![], TensorType::Fp64, vec![0; 8])),
        ("neg", Tensor::new(vec![], TensorType::Fp32, vec![0; 4])),
    ];
    for (name, t) in bad {
        let e = ctx.set_input(name, &t).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    }
    ctx.compute().unwrap();
    assert_eq!(ctx.get_output("y").unwrap().to_f32_vec().unwrap(), want);
}
