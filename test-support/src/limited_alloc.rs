//! A global allocator for robustness tests and fuzz targets that refuses any single
//! allocation above a limit. Refusing (returning null) is what `GlobalAlloc` allows: the
//! interpreter's fallible allocations turn it into an `OutOfMemory` error, while an
//! infallible one aborts the process — so a test or fuzz run under this allocator fails
//! exactly when some path allocates a hostile size without checking.
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: LimitedAlloc = LimitedAlloc::new(256 << 20, |_| {});
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator with a per-allocation size limit (see the module docs).
pub struct LimitedAlloc {
    limit: usize,
    refused: AtomicUsize,
    /// Called with the size of each refused request, inside the allocator: it must not
    /// allocate (write to stderr from a stack buffer, bump a counter).
    on_refuse: fn(usize),
}

impl LimitedAlloc {
    /// Refuse single allocations above `limit` bytes, calling `on_refuse` for each.
    pub const fn new(limit: usize, on_refuse: fn(usize)) -> LimitedAlloc {
        LimitedAlloc {
            limit,
            refused: AtomicUsize::new(0),
            on_refuse,
        }
    }

    /// How many requests were refused so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    fn allows(&self, size: usize) -> bool {
        if size <= self.limit {
            return true;
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        (self.on_refuse)(size);
        false
    }
}

// SAFETY: every call forwards to the system allocator with the same arguments, or returns
// null, which `GlobalAlloc` permits for any request.
unsafe impl GlobalAlloc for LimitedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.allows(layout.size()) {
            return std::ptr::null_mut();
        }
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.allows(layout.size()) {
            return std::ptr::null_mut();
        }
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.allows(new_size) {
            return std::ptr::null_mut();
        }
        System.realloc(ptr, layout, new_size)
    }
}
