//! Random valid programs against every registered op: each case is a packed model calling one
//! to three real ops with well-formed but hostile arguments (see
//! `wasm_torch_packer::testgen::program`), loaded and run on small input tensors. A case may
//! fail with any typed error; it must not panic, hang or allocate past a limit.
//!
//! The allocation limit is enforced by this test binary's global allocator: a request above
//! [`ALLOC_LIMIT`] is refused (null), which the interpreter's fallible allocations turn into an
//! `OutOfMemory` error and an infallible allocation turns into an abort, failing the test. The
//! cargo-fuzz target `run_program` runs the same generator for millions of cases; this test
//! runs a fixed sample in every CI run and replays the committed regression seeds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use wasm_torch_interp::{supported_ops, Program, Session, Tensor};
use wasm_torch_packer::testgen::program::op_program;
use wasm_torch_packer::{pack, PackOptions};
use wasm_torch_test_support::limited_alloc::LimitedAlloc;

/// Largest single allocation a case may make (the inputs are at most 5^4 elements; an op
/// that needs more was asked for a huge output and must refuse it, fallibly).
const ALLOC_LIMIT: usize = 256 << 20;

/// The case being run, so a refused infallible allocation (an abort) can be traced to it.
static CURRENT_CASE: AtomicUsize = AtomicUsize::new(0);

/// Note a refused request on stderr without allocating (this runs inside the allocator).
fn note_refusal(size: usize) {
    use std::io::Write;
    let mut buf = [0u8; 96];
    let mut w = &mut buf[..];
    let _ = writeln!(
        w,
        "refused {size} bytes in case {}",
        CURRENT_CASE.load(Ordering::Relaxed)
    );
    let left = w.len();
    let _ = std::io::stderr().write_all(&buf[..buf.len() - left]);
}

#[global_allocator]
static ALLOCATOR: LimitedAlloc = LimitedAlloc::new(ALLOC_LIMIT, note_refusal);

/// Steps one run may take: generated programs have no loops, so this only guards the ops'
/// own bookkeeping if a future instruction kind adds any.
const STEP_LIMIT: u64 = 1 << 16;

/// Pack, load and run the program built from `data`; `Err` describes a panic.
fn run_case(data: &[u8], ops: &[&str]) -> Result<(), String> {
    let case = op_program(data, ops);
    let bytes = pack(&case.ir, &PackOptions::default())
        .map_err(|e| format!("the generator made an unpackable program: {e}"))?;
    let program = Program::from_bytes(&bytes).map_err(|e| {
        format!(
            "a packed program of registered ops failed to load: {e} (ops {:?})",
            case.ir.ops
        )
    })?;
    let inputs: Vec<Tensor> = case
        .inputs
        .iter()
        .map(|t| {
            let shape = t.shape.iter().map(|&d| d as usize).collect();
            Tensor::from_le_bytes(t.dtype, shape, &t.data).expect("generated inputs are valid")
        })
        .collect();
    let describe = || {
        format!(
            "ops {:?}, constants {:?}, code {:?}",
            case.ir.ops, case.ir.constants, case.ir.functions[0].code
        )
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut session = Session::new(Arc::new(program)).expect("a session for a valid program");
        session.set_step_limit(STEP_LIMIT);
        let _ = session.run_positional(inputs);
    }));
    outcome.map_err(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("panic \"{msg}\": {}", describe())
    })
}

/// The byte string of case `i`: xorshift64 from a per-case seed, so a failure names a case
/// that replays on its own.
fn case_bytes(i: u64, len: usize) -> Vec<u8> {
    let mut s = 0x2545_f491_4f6c_dd1d ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

#[test]
fn random_programs_of_registered_ops_never_panic() {
    let ops = supported_ops();
    // Cases per run: enough to give every op several argument lists in a few seconds.
    let cases: u64 = std::env::var("WASM_TORCH_RANDOM_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // Panics are caught and reported together; keep the default hook quiet meanwhile.
    // Replaying one case prints its program first (an abort would lose the description).
    if let Some(i) = std::env::var("WASM_TORCH_RANDOM_PROGRAM_CASE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        let case = op_program(&case_bytes(i, 512), &ops);
        eprintln!(
            "case {i}: ops {:?}\ninputs {:?}\nconstants {:?}\ncode {:?}",
            case.ir.ops,
            case.inputs
                .iter()
                .map(|t| (t.dtype, &t.shape))
                .collect::<Vec<_>>(),
            case.ir.constants,
            case.ir.functions[0].code
        );
        let r = run_case(&case_bytes(i, 512), &ops);
        assert!(r.is_ok(), "{r:?}");
        return;
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    for i in 0..cases {
        CURRENT_CASE.store(i as usize, Ordering::Relaxed);
        if let Err(e) = run_case(&case_bytes(i, 512), &ops) {
            failures.push(format!("case {i}: {e}"));
        }
    }
    std::panic::set_hook(hook);
    assert!(
        failures.is_empty(),
        "{} of {cases} random programs failed:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    eprintln!(
        "{cases} random programs ran; {} huge allocations were refused (fallibly)",
        ALLOCATOR.refused()
    );
}
