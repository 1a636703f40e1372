//! Allocation failure injection for tests (feature `failpoints`): [`fail_nth`] makes the
//! N-th fallible allocation from then on fail — tensors, packed weights, GEMM scratch (the
//! kernels' counter) and weight-arena segments (the format crate's hook, routed to the
//! same counter) — so a test can fail every allocation of a load or a run in turn.

/// Make the `n`-th fallible allocation from now fail (only that one); `0` disarms.
/// Process-wide: use from one test at a time.
pub fn fail_nth(n: usize) {
    wasm_torch_format::failpoint::set_hook(|bytes| {
        wasm_torch_kernels::alloc::check(bytes).is_err()
    });
    wasm_torch_kernels::alloc::failpoint::fail_nth(n);
}

/// Fallible allocations counted since the last [`fail_nth`].
pub fn count() -> usize {
    wasm_torch_kernels::alloc::failpoint::count()
}
