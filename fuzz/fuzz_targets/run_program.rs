//! Random *valid* programs through the interpreter: the packer's `op_program` generator turns
//! the fuzzer's bytes into a model calling one to three registered ops with well-formed but
//! hostile arguments (zero, negative and enormous sizes, NaN and infinite floats, empty
//! tensors), which must pack, load, and run to a result or a typed error: no panic, no hang
//! (libFuzzer's `-timeout`), and no single allocation above 256 MiB — the allocator
//! refuses those, so a fallible allocation becomes an `OutOfMemory` error and an infallible
//! one aborts, which libFuzzer reports as a crash.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use wasm_torch_interp::{supported_ops, Program, Session, Tensor};
use wasm_torch_packer::testgen::program::op_program;
use wasm_torch_packer::{pack, PackOptions};
use wasm_torch_test_support::limited_alloc::LimitedAlloc;

/// Largest single allocation (inputs are at most 5^4 elements; anything bigger was asked
/// for by a hostile argument and must be refused fallibly).
#[global_allocator]
static ALLOCATOR: LimitedAlloc = LimitedAlloc::new(256 << 20, |_| {});

fn ops() -> &'static [&'static str] {
    static OPS: OnceLock<Vec<&'static str>> = OnceLock::new();
    OPS.get_or_init(supported_ops)
}

fuzz_target!(|data: &[u8]| {
    let case = op_program(data, ops());
    let bytes = pack(&case.ir, &PackOptions::default()).expect("generated programs pack");
    let program = Program::from_bytes(&bytes).expect("programs of registered ops load");
    let inputs: Vec<Tensor> = case
        .inputs
        .iter()
        .map(|t| {
            let shape = t.shape.iter().map(|&d| d as usize).collect();
            Tensor::from_le_bytes(t.dtype, shape, &t.data).expect("generated inputs are valid")
        })
        .collect();
    let mut session = Session::new(Arc::new(program)).expect("a session for a valid program");
    // Generated programs have no loops; the limit only bounds a future instruction kind.
    session.set_step_limit(1 << 16);
    let _ = session.run_positional(inputs);
});
