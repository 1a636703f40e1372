//! Weight pre-packing under a memory budget, and the choice of GEMM path for a product
//! whose right operand may be a program weight.
//!
//! Packing a weight into the GEMM kernel's panel layout once per session saves re-packing it
//! on every call, but the packed copy is as large as the weight. Unbounded, that doubled the
//! resident memory of large models and made a 2.4 GB model fail in the 4 GiB of wasm32. So
//! packed copies are kept only while their total stays within the session's budget
//! ([`DEFAULT_BUDGET`], set with `Session::set_prepack_budget`), and no single weight may
//! take more than a quarter of it. Everything else runs from the stored weight:
//! - few rows (m ≤ [`ROWS_MAX`]) against a weight stored `[out, in]` (a Linear layer):
//!   `sgemm_rows`, dot products along the stored rows, no copy and no scratch;
//! - otherwise `sgemm`, which packs one column block at a time into a bounded scratch.
//!
//! The stored weight bytes are never rewritten (one tensor may serve two ops, e.g. an
//! embedding and a tied output projection). Every buffer is allocated fallibly; a packed
//! copy that cannot be allocated is skipped (packing is an optimisation), a scratch or
//! output that cannot be allocated is an `OutOfMemory` error.

use std::collections::HashMap;
use std::sync::Arc;

use wasm_torch_kernels::activation::Activation;
use wasm_torch_kernels::conv::{Conv2dParams, PackedConvWeight};
use wasm_torch_kernels::gemm::{sgemm_packed, sgemm_rows, try_sgemm, PackedB};

use crate::error::{Error, Result};
use crate::ops::OpCtx;
use crate::tensor::{DType, Tensor};

/// Default budget for packed weight copies per session: 256 MiB. Small and medium models
/// (all of the zoo) stay fully pre-packed, as before the budget existed; a model with
/// gigabytes of weights gains at most this much, so it never doubles.
pub const DEFAULT_BUDGET: usize = 256 << 20;

/// Rows of A up to which a product with a weight stored by rows uses `sgemm_rows` when the
/// weight is not pre-packed: reading the stored rows once beats packing the weight per call
/// (a copy of all of it) when there are this few rows to amortise it over.
pub const ROWS_MAX: usize = 4;

/// Key of a packed linear weight: storage address, (k, n), used transposed.
type LinearKey = (usize, usize, usize, bool);
/// Key of a packed convolution weight: address, (out, in per group, kh, kw), groups.
type ConvKey = (usize, [usize; 4], usize);

/// The packed copies one session keeps, and their budget.
pub(crate) struct Prepack {
    linear: HashMap<LinearKey, Arc<PackedB>>,
    conv: HashMap<ConvKey, Arc<PackedConvWeight>>,
    budget: usize,
    used: usize,
}

impl Default for Prepack {
    fn default() -> Self {
        Prepack {
            linear: HashMap::new(),
            conv: HashMap::new(),
            budget: DEFAULT_BUDGET,
            used: 0,
        }
    }
}

impl Prepack {
    /// Set the budget in bytes (0 turns pre-packing off). Copies already made are dropped
    /// when they exceed the new budget.
    pub(crate) fn set_budget(&mut self, bytes: usize) {
        self.budget = bytes;
        if self.used > bytes {
            self.linear.clear();
            self.conv.clear();
            self.used = 0;
        }
    }

    /// The budget in bytes.
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// Bytes held by packed copies.
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// Whether a new copy of `bytes` may be made.
    fn admits(&self, bytes: usize) -> bool {
        bytes <= self.budget / 4
            && self
                .used
                .checked_add(bytes)
                .is_some_and(|t| t <= self.budget)
    }
}

/// A 2-d f32 operand as the GEMM kernels take it: row-major with leading dimension `ld`,
/// or stored transposed when `trans`.
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub ld: usize,
    pub trans: bool,
}

/// `out[m×n] = a[m×k] · b[k×n] (+ bias per column)`, where `b_tensor` is the tensor `b`
/// views (to recognise program weights). `out` is zeroed, `m·n` long.
#[allow(clippy::too_many_arguments)]
pub(crate) fn product(
    ctx: &mut OpCtx,
    b_tensor: &Tensor,
    a: MatRef,
    b: MatRef,
    (m, k, n): (usize, usize, usize),
    bias: Option<&[f32]>,
    out: &mut [f32],
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if let Some(bv) = bias {
            out.chunks_exact_mut(n).for_each(|r| r.copy_from_slice(bv));
        }
        return Ok(());
    }
    let weight = b_tensor.dtype() == DType::F32 && ctx.persistent.contains(&b_tensor.data_ptr());
    if weight && !a.trans {
        let p = &mut ctx.prepack;
        let key = (b_tensor.data_ptr(), k, n, b.trans);
        let packed = match p.linear.get(&key) {
            Some(pb) => Some(pb.clone()),
            None => {
                let bytes = PackedB::packed_len(k, n).map_or(usize::MAX, |l| l.saturating_mul(4));
                if p.admits(bytes) {
                    // A failed allocation only means this weight runs unpacked.
                    PackedB::try_pack(k, n, b.data, b.ld, b.trans)
                        .ok()
                        .map(|pb| {
                            let pb = Arc::new(pb);
                            p.used += pb.bytes();
                            p.linear.insert(key, pb.clone());
                            pb
                        })
                } else {
                    None
                }
            }
        };
        if let Some(pb) = packed {
            sgemm_packed(m, a.data, a.ld, &pb, bias, Activation::None, out, n);
            return Ok(());
        }
    }
    if b.trans && !a.trans && m <= ROWS_MAX {
        sgemm_rows(m, n, k, a.data, a.ld, b.data, b.ld, bias, out, n);
        return Ok(());
    }
    if let Some(bv) = bias {
        out.chunks_exact_mut(n).for_each(|r| r.copy_from_slice(bv));
    }
    try_sgemm(
        m,
        n,
        k,
        a.data,
        a.ld,
        a.trans,
        b.data,
        b.ld,
        b.trans,
        out,
        n,
        bias.is_some(),
    )
    .map_err(|e| Error::oom(format!("matmul scratch: {e}")))
}

/// The packed copy of a program weight `w` for convolution `p`: made on first use and kept
/// while the budget allows; `None` when `w` is not a contiguous program weight, the budget
/// is exhausted, the copy cannot be allocated, or the convolution is depthwise (direct,
/// unpacked).
pub(crate) fn conv_weight(
    ctx: &mut OpCtx,
    w: &Tensor,
    p: &Conv2dParams,
) -> Result<Option<Arc<PackedConvWeight>>> {
    // Only the base of a contiguous program weight: a strided view of the same storage
    // would have the same address but different values.
    if p.in_channels == p.groups || !w.is_contiguous() || !ctx.persistent.contains(&w.data_ptr()) {
        return Ok(None);
    }
    let key = (
        w.data_ptr(),
        [
            p.out_channels,
            p.in_channels / p.groups,
            p.kernel_h,
            p.kernel_w,
        ],
        p.groups,
    );
    let pp = &mut ctx.prepack;
    if let Some(pw) = pp.conv.get(&key) {
        return Ok(Some(pw.clone()));
    }
    // Upper bound of the packed size: output channels per group rounded up to the widest
    // micro-tile (8 rows).
    let kdim = p.in_channels / p.groups * p.kernel_h * p.kernel_w;
    let bytes = (p.out_channels / p.groups)
        .div_ceil(8)
        .saturating_mul(8 * p.groups)
        .saturating_mul(kdim)
        .saturating_mul(4);
    if !pp.admits(bytes) {
        return Ok(None);
    }
    let Ok(Some(pw)) = PackedConvWeight::try_pack(p, &w.f32s()?) else {
        return Ok(None);
    };
    let pw = Arc::new(pw);
    pp.used += pw.bytes();
    pp.conv.insert(key, pw.clone());
    Ok(Some(pw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight(ctx: &mut OpCtx, n: usize, k: usize) -> Tensor {
        let w = Tensor::from_f32(
            vec![n, k],
            (0..n * k)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1)
                .collect(),
        );
        ctx.persistent.insert(w.data_ptr());
        w
    }

    fn linear(ctx: &mut OpCtx, w: &Tensor, m: usize) -> Vec<f32> {
        let (n, k) = (w.shape()[0], w.shape()[1]);
        let x: Vec<f32> = (0..m * k).map(|i| (i % 5) as f32 - 2.0).collect();
        let mut out = vec![0f32; m * n];
        let wv = w.to_f32_vec();
        product(
            ctx,
            w,
            MatRef {
                data: &x,
                ld: k,
                trans: false,
            },
            MatRef {
                data: &wv,
                ld: k,
                trans: true,
            },
            (m, k, n),
            None,
            &mut out,
        )
        .unwrap();
        // Naive reference.
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|p| x[i * k + p] * wv[j * k + p]).sum();
                assert!((out[i * n + j] - want).abs() < 1e-3, "{i},{j}");
            }
        }
        out
    }

    #[test]
    fn packs_within_the_budget_only() {
        let mut ctx = OpCtx::default();
        // Two 64x64 weights: 16 KiB packed each. A budget of 64 KiB admits copies of at
        // most 16 KiB each, both fit; a budget of 24 KiB (below the 32 KiB kept) drops them
        // and admits copies of 6 KiB: none.
        ctx.prepack.set_budget(64 << 10);
        let (w1, w2) = (weight(&mut ctx, 64, 64), weight(&mut ctx, 64, 64));
        for m in [1, 3, 9] {
            linear(&mut ctx, &w1, m);
            linear(&mut ctx, &w2, m);
        }
        assert_eq!(ctx.prepack.used(), 2 * 64 * 64 * 4);
        assert_eq!(ctx.prepack.linear.len(), 2);
        ctx.prepack.set_budget(24 << 10);
        assert_eq!(
            ctx.prepack.used(),
            0,
            "copies over the new budget are dropped"
        );
        for m in [1, 3, 9] {
            linear(&mut ctx, &w1, m);
        }
        assert_eq!(ctx.prepack.used(), 0);
        ctx.prepack.set_budget(0);
        linear(&mut ctx, &w2, 2);
        assert!(ctx.prepack.linear.is_empty());
    }

    #[test]
    fn a_non_weight_is_never_cached() {
        let mut ctx = OpCtx::default();
        let w = weight(&mut ctx, 8, 8);
        ctx.persistent.clear();
        linear(&mut ctx, &w, 5);
        assert_eq!(ctx.prepack.used(), 0);
    }
}
