//! Zoo models (exported from PyTorch by `py-export/zoo/build_zoo.py`) through the WIT-shaped
//! API, compared with PyTorch's outputs: max |got - want| / max(1, |want|) within the zoo's
//! tolerance (1e-4 for f32 weights). Needs a zoo directory, so it is `#[ignore]`d; run it with
//! `WASI_NN_ZOO=<dir> cargo test --test zoo -- --ignored` (wasi-nn/scripts/test.sh does when a
//! zoo exists).

use wasm_torch_interp::npy::read_npy;
use wasm_torch_wasi_nn::{load, ExecutionTarget, GraphEncoding, Tensor, TensorType};

/// `(model file, input files, first output file, tolerance)` of every exported model, read
/// from manifest.json with string searches (no JSON dependency for one test).
fn cases(manifest: &str) -> Vec<(String, Vec<String>, String)> {
    let mut out = Vec::new();
    for entry in manifest.split("\"file\": \"").skip(1) {
        let file = entry.split('"').next().unwrap_or_default().to_string();
        let Some(case) = entry.split("\"cases\": [").nth(1) else {
            continue; // a model that failed to export has no cases
        };
        let list = |key: &str| -> Vec<String> {
            case.split(&format!("\"{key}\": ["))
                .nth(1)
                .and_then(|s| s.split(']').next())
                .map(|s| {
                    s.split('"')
                        .filter(|p| p.ends_with(".npy"))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (inputs, outputs) = (list("inputs"), list("outputs"));
        if let Some(first) = outputs.first() {
            out.push((file, inputs, first.clone()));
        }
    }
    out
}

fn wit_tensor(t: &wasm_torch_interp::Tensor) -> Option<Tensor> {
    let ty = TensorType::from_dtype(t.dtype())?;
    let dims = t.shape().iter().map(|&d| d as u32).collect();
    Some(Tensor::new(
        dims,
        ty,
        t.to_le_bytes().expect("zoo outputs materialize"),
    ))
}

#[test]
#[ignore = "needs WASI_NN_ZOO (a directory written by py-export/zoo/build_zoo.py)"]
fn zoo_models_match_pytorch() {
    let dir = std::env::var("WASI_NN_ZOO").expect("set WASI_NN_ZOO");
    let dir = std::path::Path::new(&dir);
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    let cases = cases(&manifest);
    assert!(!cases.is_empty(), "no exported models in {}", dir.display());
    for (file, inputs, output) in cases {
        let bytes = std::fs::read(dir.join(&file)).unwrap();
        let graph = load(&[&bytes], GraphEncoding::Autodetect, ExecutionTarget::Cpu)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut ctx = graph.init_execution_context().unwrap();
        for (i, f) in inputs.iter().enumerate() {
            let t = read_npy(&std::fs::read(dir.join(f)).unwrap()).unwrap();
            let t =
                wit_tensor(&t).unwrap_or_else(|| panic!("{f}: no WIT type for {:?}", t.dtype()));
            ctx.set_input(i as u32, &t)
                .unwrap_or_else(|e| panic!("{file} input {i}: {e}"));
        }
        ctx.compute().unwrap_or_else(|e| panic!("{file}: {e}"));
        let want = read_npy(&std::fs::read(dir.join(&output)).unwrap()).unwrap();
        let got = ctx.get_output(0).unwrap();
        assert_eq!(got.dimensions().len(), want.shape().len(), "{file}");
        let got = got.to_f32_vec().expect("f32 output");
        let want = want.to_f32_vec();
        assert_eq!(got.len(), want.len(), "{file}");
        let diff = got
            .iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs() / w.abs().max(1.0))
            .fold(0f32, f32::max);
        println!(
            "{file}: {} outputs, max scaled diff vs PyTorch {diff:.2e}",
            got.len()
        );
        assert!(diff <= 1e-4, "{file}: max scaled diff {diff}");
    }
}
