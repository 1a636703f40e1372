//! Assets (format 1.1): a program exposes the named byte blobs its file carries, whichever
//! loader read it (bytes or a memory-mapped path), and a file without them has none.

use wasm_torch_format::Asset;
use wasm_torch_interp::{DType, Program, Session, Tensor};
use wasm_torch_test_support::{fixed, ModelBuilder};

fn model(assets: Vec<Asset>) -> Vec<u8> {
    let mut m = ModelBuilder::new("identity");
    let x = m.input("x", DType::F32, vec![fixed(2)]);
    m.output("y", DType::F32, vec![fixed(2)], x);
    let mut ir = m.build();
    ir.assets = assets;
    wasm_torch_packer::pack(&ir, &Default::default()).unwrap()
}

#[test]
fn programs_expose_their_assets_and_still_run() {
    let tok = br#"{"model":{"type":"BPE"}}"#.to_vec();
    let bytes = model(vec![
        Asset {
            name: "tokenizer.json".into(),
            data: tok.clone(),
        },
        Asset {
            name: "generation.json".into(),
            data: b"{}".to_vec(),
        },
    ]);
    let dir = std::env::temp_dir().join(format!("wt-assets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.wtb");
    std::fs::write(&path, &bytes).unwrap();
    for p in [
        Program::from_bytes(&bytes).unwrap(),
        Program::from_path(&path).unwrap(),
    ] {
        assert_eq!(p.asset_names(), vec!["tokenizer.json", "generation.json"]);
        assert_eq!(p.asset("tokenizer.json"), Some(&tok[..]));
        assert_eq!(p.asset("generation.json"), Some(&b"{}"[..]));
        assert_eq!(p.asset("missing"), None);
        let mut s = Session::new(std::sync::Arc::new(p)).unwrap();
        let y = s
            .run(&[("x", Tensor::from_f32(vec![2], vec![1.5, -2.0]))])
            .unwrap();
        assert_eq!(y[0].1.to_f32_vec(), vec![1.5, -2.0]);
    }
    std::fs::remove_dir_all(&dir).ok();
    let plain = Program::from_bytes(&model(vec![])).unwrap();
    assert!(plain.asset_names().is_empty());
    assert_eq!(plain.asset("tokenizer.json"), None);
}
