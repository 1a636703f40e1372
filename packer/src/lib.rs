//! Writes `.wtb` files from an in-memory IR ([`ModelIr`]): converts weights to their stored
//! dtype ([`quantize`]; already-quantized int8 codes are checked and kept as they are,
//! [`stored_int8`]), lays tensors out in 64-byte-aligned chunks ([`layout`]), compresses
//! each chunk with zstd when it pays ([`encode`]) and assembles the file with the format
//! crate's writer. Every packed file is parsed back and validated before it is returned, so
//! an invalid IR is an error here, not at load time.

pub mod encode;
pub mod ir;
pub mod layout;
pub mod quantize;
pub mod stored_int8;
pub mod testgen;

pub use ir::{Compression, ModelIr, PackError, PackOptions, WeightEncoding, WeightIr};
pub use wasm_torch_format::Limits;

/// Pack `ir` into the bytes of a `.wtb` file.
pub fn pack(ir: &ModelIr, opts: &PackOptions) -> Result<Vec<u8>, PackError> {
    let (graph, payloads) = encode::build(ir, opts)?;
    let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_slice()).collect();
    let (bytes, _) = wasm_torch_format::write_file(&graph, &refs)?;
    wasm_torch_format::parse_file(&bytes, &Limits::default())?;
    Ok(bytes)
}
