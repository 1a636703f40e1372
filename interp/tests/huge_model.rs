//! A model with more than 2 GiB of weights loads natively, memory-mapped and streamed (the
//! wasm32 side is `js/test/huge.test.mjs`). The file is ~2.4 GB, so it is not committed and
//! the test is opt-in:
//!
//! ```text
//! cargo run --release -p wasm-torch-js --example make_huge -- /tmp/huge.wtb
//! WASM_TORCH_HUGE_MODEL=/tmp/huge.wtb cargo test --release -p wasm-torch-interp \
//!     --test huge_model -- --ignored --nocapture
//! ```
//!
//! The model and its pattern are documented in `js/crate/examples/make_huge.rs`; expected
//! values are computed here from that definition.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;
use wasm_torch_interp::{Program, Session, StreamingLoader, Tensor};

const COLS: usize = 1024;

fn value(k: usize, r: usize, c: usize) -> f32 {
    ((7 * r + 3 * c + 5 * k) % 17) as f32 - 5.0
}

fn check(p: Program, how: &str) {
    let weights = p.weight_bytes();
    assert!(weights > 2 << 30, "{how}: only {weights} weight bytes");
    let count = p.outputs().len() / 3;
    let mut s = Session::new(Arc::new(p)).unwrap();
    let t = Instant::now();
    let out = s
        .run_positional(vec![Tensor::from_f32(vec![2], vec![1.0, -2.0])])
        .unwrap();
    eprintln!("{how}: ran in {:.2} s", t.elapsed().as_secs_f64());
    for k in 0..count {
        let rowsum = out[3 * k].to_f32_vec();
        let rows = rowsum.len();
        for (r, got) in rowsum.iter().enumerate() {
            let want: f32 = (0..COLS).map(|c| value(k, r, c)).sum();
            assert_eq!(*got, want, "{how}: rowsum{k}[{r}]");
        }
        let r = rows - 1 - 13 * k;
        let row = out[3 * k + 1].to_f32_vec();
        let want: Vec<f32> = (0..COLS).map(|c| value(k, r, c)).collect();
        assert_eq!(row, want, "{how}: row{k}");
        let tag = out[3 * k + 2].to_f32_vec();
        let want: Vec<f32> = (0..16).map(|i| (1000 * k + i) as f32).collect();
        assert_eq!(tag, want, "{how}: tag{k}");
    }
    assert_eq!(out[3 * count].to_f32_vec(), vec![2.0, -1.0]);
}

#[test]
#[ignore = "needs WASM_TORCH_HUGE_MODEL=<path> (a ~2.4 GB file from the make_huge example)"]
fn huge_model_loads_mapped_and_streamed() {
    let path = std::env::var("WASM_TORCH_HUGE_MODEL").expect("WASM_TORCH_HUGE_MODEL");
    let path = std::path::Path::new(&path);
    let len = std::fs::metadata(path).unwrap().len();

    let t = Instant::now();
    let p = Program::from_path(path).unwrap();
    eprintln!(
        "mapped: {} weight bytes in {:.2} s",
        p.weight_bytes(),
        t.elapsed().as_secs_f64()
    );
    check(p, "mapped");

    let t = Instant::now();
    let mut loader = StreamingLoader::new();
    let mut f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        loader.feed(&buf[..n]).unwrap();
    }
    let p = loader.finish().unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "streamed: {len} bytes in {secs:.2} s ({:.0} MB/s)",
        len as f64 / secs / 1e6
    );
    check(p, "streamed");
}
