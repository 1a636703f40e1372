//! `wasm-torch`: the command line. `main` only dispatches; each subcommand lives in its own
//! module with a `run(args) -> Result<(), CliError>` entry point, so new subcommands (`run`,
//! `bench`, `diff`) are one module and one match arm each.
#![deny(missing_docs)]

mod common;
mod inspect;
mod validate;

use common::CliError;
use std::process::ExitCode;

const USAGE: &str = "usage: wasm-torch <command> [args]

commands:
  inspect FILE    show versions, metadata, signature, ops (with call counts), tensors, chunks
  validate FILE   fully check FILE, decoding every chunk; exit 0 when valid, 1 when not
  help            this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "inspect" => inspect::run(rest),
        "validate" => validate::run(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(CliError::Usage(format!("unknown command {other:?}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasm-torch {cmd}: {e}");
            if matches!(e, CliError::Usage(_)) {
                eprintln!("{USAGE}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
