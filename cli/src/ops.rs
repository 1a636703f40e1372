//! `wasm-torch ops`: every op the interpreter's registry implements, one name per line,
//! sorted. scripts/gen_ops_doc.py reads this to generate docs/ops.md.
//!
//! The registry maps names to functions only and records no per-op dtype support, so no
//! dtypes are printed rather than guessed.

use crate::common::CliError;
use std::io::Write;

/// Run the subcommand.
pub fn run(args: &[String]) -> Result<(), CliError> {
    if !args.is_empty() {
        return Err(CliError::Usage("ops takes no arguments".into()));
    }
    let mut o = String::new();
    for name in wasm_torch_interp::supported_ops() {
        o.push_str(name);
        o.push('\n');
    }
    std::io::stdout()
        .write_all(o.as_bytes())
        .map_err(|e| CliError::Io(format!("stdout: {e}")))
}
