//! `wasm-torch`: the command line. `main` only dispatches; each subcommand lives in its own
//! module with a `run(args) -> Result<(), CliError>` entry point, so a new subcommand is one
//! module and one match arm.

mod bench;
mod common;
mod feed;
mod inspect;
mod ops;
mod run;
mod trace;
mod validate;

use common::CliError;
use std::process::ExitCode;

const USAGE: &str = "usage: wasm-torch <command> [args]

commands:
  inspect FILE    show versions, metadata, signature, ops (with call counts), tensors, chunks
  validate FILE   fully check FILE, decoding every chunk; exit 0 when valid, 1 when not
  run FILE [X.npy ...] [--input NAME=X.npy ...] [--output OUT.npz] [--profile]
      [--trace DIR] [--runs N]
                  load FILE (memory-mapped), run it, print each output (dtype, shape, first
                  values, top-5 of logit vectors) and the time. Inputs are .npy files, by
                  name or positionally in signature order; missing inputs are an error that
                  lists the expected ones (nothing is invented).
                  --output   all outputs as .npz (members named after the outputs), or one
                             output as .npy when OUT ends in .npy
                  --profile  time and calls per op kind (sorted by time), totals, planned
                             vs actual peak tensor memory
                  --trace    every op result saved as DIR/<index>_<name>.npy (index in
                             execution order, zero-padded) plus DIR/trace.json:
                             {\"format\": \"wasm-torch-trace\", \"version\": 1, \"entries\":
                             [{index, name, op, dtype, shape, file}]}
                  --runs N   run N times; the time line gives median/min/max
  bench FILE [X.npy ...] [--input NAME=X.npy ...] [--runs N] [--warmup N]
                  load time (mmap), first run, then median/min/p90/max/mean latency over N
                  timed runs (default 20) after N warm-up runs (default 3)
  ops             every op the interpreter implements, one name per line
  help            this text

exit codes: 0 ok, 1 invalid file / unsupported model / bad input / runtime error, 2 usage or I/O";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "inspect" => inspect::run(rest),
        "validate" => validate::run(rest),
        "run" => run::run(rest),
        "bench" => bench::run(rest),
        "ops" => ops::run(rest),
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
