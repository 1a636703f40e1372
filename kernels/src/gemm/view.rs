//! A mutable view of a row-major matrix region that can be split by columns, so disjoint
//! column blocks of one output (e.g. of a convolution's `O × OH·OW` result) can be written
//! by different threads without two `&mut` slices over the same memory.

use std::marker::PhantomData;

/// Exclusive access to elements `(i, j)`, `i < rows`, `j < cols`, at `ptr + i·ld + j`.
pub(crate) struct MatMut<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    ld: usize,
    _owns: PhantomData<&'a mut [f32]>,
}

// SAFETY: a view is the only handle to its elements (it is built from a `&mut` slice, and
// splitting consumes it), so moving it to another thread is like moving that `&mut`.
unsafe impl Send for MatMut<'_> {}

impl<'a> MatMut<'a> {
    /// The `rows × cols` matrix with leading dimension `ld` at the start of `c`.
    /// Panics if `c` is too short (see `check_matrix`).
    pub(crate) fn new(c: &'a mut [f32], rows: usize, cols: usize, ld: usize) -> Self {
        super::check_matrix("gemm c", rows, cols, ld, c.len());
        MatMut {
            ptr: c.as_mut_ptr(),
            rows,
            cols,
            ld,
            _owns: PhantomData,
        }
    }

    /// Number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Columns `j0..j0 + w` of row `i`. Panics outside the view.
    #[inline]
    pub(crate) fn row_part(&mut self, i: usize, j0: usize, w: usize) -> &mut [f32] {
        assert!(i < self.rows && j0 <= self.cols && w <= self.cols - j0);
        if w == 0 {
            return &mut [];
        }
        // SAFETY: in bounds of the region `new` checked, and `&mut self` makes the slice
        // the only live access to these elements.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(i * self.ld + j0), w) }
    }

    /// Splits into columns `..at` and `at..`. Panics if `at > cols`.
    pub(crate) fn split_cols(self, at: usize) -> (MatMut<'a>, MatMut<'a>) {
        assert!(at <= self.cols);
        let right_ptr = if at < self.cols && self.rows > 0 {
            // SAFETY: column `at` of row 0 is inside the region.
            unsafe { self.ptr.add(at) }
        } else {
            self.ptr
        };
        (
            MatMut { cols: at, ..self },
            MatMut {
                ptr: right_ptr,
                cols: self.cols - at,
                ..self
            },
        )
    }

    /// Splits into column blocks at the given ascending boundaries (`bounds` lists the
    /// `(start, end)` of each block, contiguous from 0 to `cols`).
    pub(crate) fn split_blocks(self, bounds: &[(usize, usize)]) -> Vec<MatMut<'a>> {
        let mut out = Vec::with_capacity(bounds.len());
        let mut rest = self;
        let mut done = 0;
        for &(s, e) in bounds {
            assert_eq!(s, done, "split_blocks: blocks must be contiguous");
            let (head, tail) = rest.split_cols(e - s);
            out.push(head);
            rest = tail;
            done = e;
        }
        out
    }
}
