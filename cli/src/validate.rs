//! `wasm-torch validate FILE`: parse and validate the graph, then decode every chunk (one at
//! a time, into a reused buffer) so CRCs and decoded sizes are checked too.

use crate::common::{human, one_file, open, CliError};
use wasm_torch_format::{chunk_encoded, decode_chunk_with, parse_file, Limits};

/// Run the subcommand.
pub fn run(args: &[String]) -> Result<(), CliError> {
    let path = one_file(args)?;
    let file = open(path)?;
    let bytes = file.bytes();
    let limits = Limits::default();
    let g = parse_file(bytes, &limits)?;
    let max = g.chunks.iter().map(|c| c.decoded_len).max().unwrap_or(0);
    let mut buf = Vec::new();
    buf.try_reserve_exact(max as usize)
        .map_err(|_| CliError::Io(format!("cannot allocate a {max}-byte chunk buffer")))?;
    buf.resize(max as usize, 0);
    let mut decoded = 0u64;
    for c in &g.chunks {
        let enc = chunk_encoded(bytes, c)?;
        decode_chunk_with(
            enc,
            c,
            &mut buf[..c.decoded_len as usize],
            limits.max_zstd_window_log,
        )?;
        decoded += c.decoded_len;
    }
    println!(
        "{path}: valid .wtb {}.{} — {} functions, {} tensors, {} chunks ({} decoded, CRCs ok)",
        g.version.0,
        g.version.1,
        g.functions.len(),
        g.tensors.len(),
        g.chunks.len(),
        human(decoded)
    );
    Ok(())
}
