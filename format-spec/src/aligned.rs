//! A 64-byte-aligned, zero-initialised, fallibly allocated byte buffer: one segment of the
//! weight arena (see [`crate::Arena`]).
//!
//! 64-byte alignment lets the interpreter view f32/f16/i64 weights in place (and lets SIMD
//! kernels use aligned loads). Allocation goes through `alloc_zeroed`, so a failed or
//! oversized request is an error, never an abort, and large arenas get lazily zeroed pages.

use crate::error::{ErrorKind, FormatError};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

/// Alignment of every [`AlignedBuf`] in bytes.
pub const ARENA_ALIGN: usize = 64;

/// An owned, 64-byte-aligned, zero-initialised byte buffer.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like Vec<u8>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only hands out &[u8].
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Allocate `len` zero bytes aligned to 64; an error (not an abort) when that fails.
    pub fn zeroed(len: u64) -> Result<AlignedBuf, FormatError> {
        let fail = |why: &str| {
            FormatError::new(
                ErrorKind::Alloc,
                None,
                0,
                format!("cannot allocate a {len}-byte arena segment: {why}"),
            )
        };
        let len_usize = usize::try_from(len).map_err(|_| fail("larger than the address space"))?;
        if len_usize == 0 {
            // A dangling but 64-aligned pointer: valid for zero-length slices.
            let ptr = NonNull::new(ARENA_ALIGN as *mut u8).ok_or_else(|| fail("null"))?;
            return Ok(AlignedBuf { ptr, len: 0 });
        }
        // Rust caps one allocation at isize::MAX (2 GiB on wasm32): say so instead of
        // "bad layout". Only a single chunk larger than that can hit this (segments group
        // chunks up to SEGMENT_TARGET), i.e. a tensor too large for a 32-bit address space.
        #[cfg(feature = "failpoints")]
        if failpoint::hit(len_usize) {
            return Err(fail("out of memory (failpoint)"));
        }
        let layout = Layout::from_size_align(len_usize, ARENA_ALIGN)
            .map_err(|_| fail("larger than one allocation may be on this platform"))?;
        // SAFETY: layout has a non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or_else(|| fail("out of memory"))?;
        Ok(AlignedBuf {
            ptr,
            len: len_usize,
        })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialised (zeroed) bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: ptr is valid for len bytes owned exclusively by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: allocated in `zeroed` with exactly this layout.
            unsafe {
                dealloc(
                    self.ptr.as_ptr(),
                    Layout::from_size_align_unchecked(self.len, ARENA_ALIGN),
                )
            }
        }
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_and_aligned() {
        let mut b = AlignedBuf::zeroed(1000).unwrap();
        assert_eq!(b.len(), 1000);
        assert_eq!(b.as_slice().as_ptr() as usize % 64, 0);
        assert!(b.as_slice().iter().all(|&x| x == 0));
        b.as_mut_slice()[999] = 7;
        assert_eq!(b.as_slice()[999], 7);
        let e = AlignedBuf::zeroed(0).unwrap();
        assert!(e.is_empty());
        assert_eq!(e.as_slice().len(), 0);
    }

    #[test]
    fn huge_request_is_an_error() {
        let err = AlignedBuf::zeroed(u64::MAX).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Alloc);
    }
}

/// Test hook (feature `failpoints`): a function consulted before every arena allocation;
/// when it returns true the allocation fails as if the memory were exhausted.
#[cfg(feature = "failpoints")]
pub mod failpoint {
    use std::sync::OnceLock;

    static HOOK: OnceLock<fn(usize) -> bool> = OnceLock::new();

    /// Install the hook (once per process; later calls are ignored).
    pub fn set_hook(f: fn(bytes: usize) -> bool) {
        let _ = HOOK.set(f);
    }

    pub(super) fn hit(bytes: usize) -> bool {
        HOOK.get().is_some_and(|f| f(bytes))
    }
}
