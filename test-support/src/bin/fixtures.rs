//! Writes the fixture files other test suites load.
//!
//! ```text
//! cargo run -p wasm-torch-test-support --bin fixtures -- js DIR          # js/test fixtures
//! cargo run -p wasm-torch-test-support --bin fixtures -- js-big MB PATH  # a large model
//! cargo run -p wasm-torch-test-support --bin fixtures -- wasi-nn DIR     # wasi-nn/test fixtures (incl. scalars.wtb)
//! ```

use std::path::Path;
use wasm_torch_test_support::fixtures::{js, scale_bias_relu};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["js", dir] => js::write_all(Path::new(dir))?,
        ["js-big", mb, path] => js::write_big(mb.parse()?, Path::new(path))?,
        ["wasi-nn", dir] => {
            scale_bias_relu::write_all(Path::new(dir))?;
            // Scalar inputs (format 1.1): `n: int = 3`, `alpha: float = 0.5`, `neg: bool`.
            let ir = wasm_torch_test_support::fixtures::scalars::scalar_loop(Some(3));
            std::fs::write(
                Path::new(dir).join("scalars.wtb"),
                wasm_torch_test_support::pack_default(&ir),
            )?;
            eprintln!("wrote the wasi-nn fixtures to {dir}");
        }
        _ => {
            eprintln!("usage: fixtures js DIR | fixtures js-big MB PATH | fixtures wasi-nn DIR");
            std::process::exit(2);
        }
    }
    Ok(())
}
