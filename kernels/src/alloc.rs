//! Fallible buffer allocation for kernels and their callers.
//!
//! A wasm32 instance has at most 4 GiB; when `memory.grow` fails the global allocator
//! returns null, and Rust's infallible `vec!` then aborts, which traps the whole instance.
//! Large buffers (packed weights, GEMM scratch, tensors) are therefore allocated through
//! [`try_zeroed`], which reports the failure as an [`AllocError`] the caller turns into a
//! typed error, leaving the instance usable.
//!
//! With the cargo feature `failpoints`, `failpoint::fail_nth` makes the N-th call of
//! [`try_zeroed`] (or of [`check`]) from then on fail, so tests can walk every allocation
//! of a load or a run in turn.

use std::fmt;

/// A buffer could not be allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError {
    /// Bytes that were asked for.
    pub bytes: usize,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not allocate {} bytes", self.bytes)
    }
}

impl std::error::Error for AllocError {}

/// Counts one fallible allocation of `bytes` against the failpoint (a no-op without the
/// `failpoints` feature). Callers that allocate by other means (e.g. `try_reserve` on their
/// own vector) call this first so the stress tests see them.
#[inline]
pub fn check(bytes: usize) -> Result<(), AllocError> {
    #[cfg(feature = "failpoints")]
    if failpoint::hit() {
        return Err(AllocError { bytes });
    }
    let _ = bytes;
    Ok(())
}

/// `n` default values (zeros), or an [`AllocError`] instead of an abort when the memory
/// is not there (or `n` elements overflow the address space).
pub fn try_zeroed<T: Copy + Default>(n: usize) -> Result<Vec<T>, AllocError> {
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    check(bytes)?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| AllocError { bytes })?;
    v.resize(n, T::default());
    Ok(v)
}

/// Test hooks: fail the N-th fallible allocation (feature `failpoints` only).
#[cfg(feature = "failpoints")]
pub mod failpoint {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// 0 = disarmed; else the 1-based index of the allocation that fails.
    static FAIL_AT: AtomicUsize = AtomicUsize::new(0);
    /// Fallible allocations counted since the last [`fail_nth`].
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    /// Make the `n`-th fallible allocation from now fail (only that one); `0` disarms.
    /// Process-wide: tests using it must not run concurrently with other allocating tests.
    pub fn fail_nth(n: usize) {
        COUNT.store(0, Ordering::SeqCst);
        FAIL_AT.store(n, Ordering::SeqCst);
    }

    /// Fallible allocations counted since the last [`fail_nth`] (to know whether the
    /// armed one was reached).
    pub fn count() -> usize {
        COUNT.load(Ordering::SeqCst)
    }

    pub(super) fn hit() -> bool {
        let i = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
        FAIL_AT.load(Ordering::SeqCst) == i
    }
}
