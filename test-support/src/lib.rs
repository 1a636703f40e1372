//! Test and example support for the wasm-torch crates (never published).
//!
//! Why: packer, interp, cli, js and wasi-nn tests all need small models with known weights.
//! Written as `ModelIr { … }` literals, each one spells out registers, op-table indices and
//! constant-pool indices by hand, and every literal breaks when `ModelIr` gains a field. The
//! [`ModelBuilder`] allocates registers and indices and fills every other field with its
//! default; [`npy`] writes NumPy files independently of the interpreter's own writer (so
//! the reader is checked against a second implementation); [`fixtures`] holds the models the
//! JavaScript and wasi-nn tests load, written by the `fixtures` binary.

mod builder;
pub mod fixtures;
pub mod limited_alloc;
pub mod npy;

pub use builder::{fixed, spec, sym, ModelBuilder};
use wasm_torch_format::DType;
use wasm_torch_packer::{pack, ModelIr, PackOptions, WeightEncoding, WeightIr};

/// `len` deterministic values in [-1, 1) from an xorshift generator seeded by `seed`: the
/// same sequence on every platform, so tests can compare against fixed expectations.
pub fn uniform_f32(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// Little-endian bytes of `v`.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// An f32 weight stored as is.
pub fn f32_weight(name: &str, shape: &[u64], values: &[f32]) -> WeightIr {
    f32_weight_encoded(name, shape, values, WeightEncoding::AsIs)
}

/// An f32 weight stored with `encoding` (f16, int8, …).
pub fn f32_weight_encoded(
    name: &str,
    shape: &[u64],
    values: &[f32],
    encoding: WeightEncoding,
) -> WeightIr {
    WeightIr {
        name: name.into(),
        dtype: DType::F32,
        shape: shape.to_vec(),
        data: f32_bytes(values),
        encoding,
    }
}

/// `ir` packed with the default options; panics (this is test code) if it does not pack.
pub fn pack_default(ir: &ModelIr) -> Vec<u8> {
    pack(ir, &PackOptions::default()).expect("the test model packs")
}
