//! Writes the wasi-nn test fixtures into a directory (default `wasi-nn/test/fixtures`):
//! `scale_bias_relu.wtb`, `unsupported_op.wtb` (same model, relu renamed to an op no
//! interpreter has), `runtime_error.wtb` (loads, fails while running), the input `x.f32` (raw f32 LE, shape [2, 4]) and `x.npy`, and the
//! expected outputs `y.f32` / `z.f32` computed without the interpreter.
//!
//! `cargo run --example make_fixture -- <dir>`

#[path = "../tests/support/fixture.rs"]
mod fixture;

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A version 1.0 `.npy` file of little-endian f32 with `shape`.
fn npy(shape: &[usize], v: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    // Pad so magic(6) + version(2) + len(2) + header is a multiple of 64, ending in '\n'.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&f32_bytes(v));
    out
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "wasi-nn/test/fixtures".into());
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    let x = fixture::input(2);
    let (y, z) = fixture::expected(&x);
    std::fs::write(dir.join("scale_bias_relu.wtb"), fixture::model_bytes())?;
    std::fs::write(
        dir.join("unsupported_op.wtb"),
        fixture::model_bytes_with_relu("aten::frobnicate.default"),
    )?;
    std::fs::write(
        dir.join("runtime_error.wtb"),
        fixture::runtime_error_model_bytes(),
    )?;
    std::fs::write(dir.join("x.f32"), f32_bytes(&x))?;
    std::fs::write(dir.join("x.npy"), npy(&[2, 4], &x))?;
    std::fs::write(dir.join("y.f32"), f32_bytes(&y))?;
    std::fs::write(dir.join("z.f32"), f32_bytes(&z))?;
    println!("wrote fixtures to {}", dir.display());
    Ok(())
}
