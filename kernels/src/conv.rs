//! 2-D convolution (NCHW input, OIHW weight), with fused bias and activation.
//!
//! Paths: depthwise (one input channel per group) is computed directly; everything else is
//! a GEMM per (image, group) — `out[O_g × OH·OW] = W_g[O_g × I_g·KH·KW] · cols` — where the
//! columns are written straight into the GEMM's packed-B panel layout (im2col fused with
//! packing), or, for 1×1 / stride 1 / no padding, packed from the input itself.

use crate::activation::{apply_with, Activation};
use crate::arch::{self, Kernels, NR};
use crate::gemm::{gemm_block, pack_b_panels, AOperand, Bias, Epilogue, MatMut, PackedA};
use crate::parallel;

pub(crate) mod dims;
use dims::{check_sizes, conv_dims, ConvDims};

/// Least multiply-adds per thread worth a fork/join (same figure as the GEMM's).
const MIN_PAR_MACS: usize = crate::gemm::MIN_PAR_MACS;

/// Shape and hyper-parameters of a 2-D convolution (PyTorch `nn.Conv2d` semantics, with
/// zero padding). Conv1d is the case `in_h = kernel_h = 1`, `stride.0 = dilation.0 = 1`,
/// `padding.0 = 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dParams {
    /// Images in the batch (N).
    pub batch: usize,
    /// Input channels (C).
    pub in_channels: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Output channels (O).
    pub out_channels: usize,
    /// Kernel height.
    pub kernel_h: usize,
    /// Kernel width.
    pub kernel_w: usize,
    /// (vertical, horizontal) stride.
    pub stride: (usize, usize),
    /// (vertical, horizontal) zero padding on each side.
    pub padding: (usize, usize),
    /// (vertical, horizontal) dilation.
    pub dilation: (usize, usize),
    /// Channel groups; `in_channels` and `out_channels` are multiples of it.
    pub groups: usize,
}

fn out_len(inp: usize, pad: usize, dil: usize, k: usize, stride: usize) -> Option<usize> {
    let padded = inp.checked_add(pad.checked_mul(2)?)?;
    let span = dil.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
    if stride == 0 || padded < span {
        return None;
    }
    Some((padded - span) / stride + 1)
}

impl Conv2dParams {
    /// Output height: `(in_h + 2·pad − dil·(kh−1) − 1) / stride + 1`. Call after [`validate`](Self::validate).
    pub fn out_h(&self) -> usize {
        out_len(
            self.in_h,
            self.padding.0,
            self.dilation.0,
            self.kernel_h,
            self.stride.0,
        )
        .unwrap_or(0)
    }

    /// Output width (same formula as [`out_h`](Self::out_h)).
    pub fn out_w(&self) -> usize {
        out_len(
            self.in_w,
            self.padding.1,
            self.dilation.1,
            self.kernel_w,
            self.stride.1,
        )
        .unwrap_or(0)
    }

    /// Checks the parameters describe a computable convolution whose tensor sizes fit in
    /// `usize`: positive kernel/stride/dilation/groups, channels divisible by groups, a
    /// kernel no larger than the padded input.
    pub fn validate(&self) -> Result<(), String> {
        if self.groups == 0 {
            return Err("conv2d: groups must be positive".into());
        }
        if self.in_channels % self.groups != 0 || self.out_channels % self.groups != 0 {
            return Err(format!(
                "conv2d: in_channels {} and out_channels {} must be divisible by groups {}",
                self.in_channels, self.out_channels, self.groups
            ));
        }
        if self.kernel_h == 0 || self.kernel_w == 0 {
            return Err("conv2d: kernel size must be positive".into());
        }
        if self.stride.0 == 0 || self.stride.1 == 0 {
            return Err("conv2d: stride must be positive".into());
        }
        if self.dilation.0 == 0 || self.dilation.1 == 0 {
            return Err("conv2d: dilation must be positive".into());
        }
        let oh = out_len(
            self.in_h,
            self.padding.0,
            self.dilation.0,
            self.kernel_h,
            self.stride.0,
        );
        let ow = out_len(
            self.in_w,
            self.padding.1,
            self.dilation.1,
            self.kernel_w,
            self.stride.1,
        );
        let (Some(oh), Some(ow)) = (oh, ow) else {
            return Err(format!(
                "conv2d: kernel {}x{} (dilation {:?}) larger than padded input {}x{} (padding {:?})",
                self.kernel_h, self.kernel_w, self.dilation, self.in_h, self.in_w, self.padding
            ));
        };
        let sizes = [
            [self.batch, self.in_channels, self.in_h, self.in_w],
            [self.batch, self.out_channels, oh, ow],
            [
                self.out_channels,
                self.in_channels / self.groups,
                self.kernel_h,
                self.kernel_w,
            ],
        ];
        check_sizes("conv2d", &sizes)
    }

    fn dims(&self) -> ConvDims {
        conv_dims!(self, "conv2d")
    }
}

/// Convolution: `out = act(conv(input, weight) + bias)`.
///
/// Layouts: `input` N×C×H×W, `weight` O×(C/groups)×KH×KW, `bias` length O, `out`
/// N×O×OH×OW. Preconditions (asserted): `p.validate()` is `Ok` and the slices have exactly
/// those lengths.
pub fn conv2d(
    p: &Conv2dParams,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    conv2d_with(arch::active(), p, input, weight, bias, act, out)
}

/// [`conv2d`] with an explicit kernel table.
pub fn conv2d_with(
    kern: &Kernels,
    p: &Conv2dParams,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    conv2d_impl(kern, p, input, Weight::Raw(weight), bias, act, out)
}

/// Convolution weights packed once (e.g. at load) into the GEMM's A-panel layout, one
/// [`PackedA`] per group, for [`conv2d_packed`]. Only for the GEMM paths: a depthwise
/// convolution (one input channel per group) reads its weights directly.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedConvWeight {
    params: Conv2dParams,
    kernels: &'static str,
    groups: Vec<PackedA>,
}

impl PackedConvWeight {
    /// Packs `weight` (O×(C/groups)×KH×KW) of the convolution `p` for the active kernel
    /// table; `None` for depthwise convolutions, which do not use packed weights.
    /// Preconditions (asserted): `p.validate()` is `Ok` and `weight` has that length.
    pub fn pack(p: &Conv2dParams, weight: &[f32]) -> Option<PackedConvWeight> {
        PackedConvWeight::pack_with(arch::active(), p, weight)
    }

    /// [`PackedConvWeight::pack`] for an explicit kernel table.
    pub fn pack_with(
        kern: &'static Kernels,
        p: &Conv2dParams,
        weight: &[f32],
    ) -> Option<PackedConvWeight> {
        match PackedConvWeight::try_pack_with(kern, p, weight) {
            Ok(pw) => pw,
            Err(e) => panic!("PackedConvWeight::pack: {e}"),
        }
    }

    /// [`PackedConvWeight::pack`] that reports a failed allocation instead of panicking.
    pub fn try_pack(
        p: &Conv2dParams,
        weight: &[f32],
    ) -> Result<Option<PackedConvWeight>, crate::alloc::AllocError> {
        PackedConvWeight::try_pack_with(arch::active(), p, weight)
    }

    /// [`PackedConvWeight::try_pack`] for an explicit kernel table.
    pub fn try_pack_with(
        kern: &'static Kernels,
        p: &Conv2dParams,
        weight: &[f32],
    ) -> Result<Option<PackedConvWeight>, crate::alloc::AllocError> {
        if let Err(e) = p.validate() {
            panic!("{e}");
        }
        let cin_g = p.in_channels / p.groups;
        if cin_g == 1 {
            return Ok(None);
        }
        let cout_g = p.out_channels / p.groups;
        let kdim = cin_g * p.kernel_h * p.kernel_w;
        assert_eq!(weight.len(), p.out_channels * kdim, "conv2d: weight length");
        let groups = (0..p.groups)
            .map(|g| {
                let w = &weight[g * cout_g * kdim..(g + 1) * cout_g * kdim];
                PackedA::try_pack_with(kern, cout_g, kdim, w, kdim, false)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(PackedConvWeight {
            params: p.clone(),
            kernels: kern.name,
            groups,
        }))
    }

    /// Bytes held by the packed copy.
    pub fn bytes(&self) -> usize {
        self.groups.iter().map(PackedA::bytes).sum()
    }
}

/// [`conv2d`] with weights packed by [`PackedConvWeight::pack`]. The weights must have
/// been packed for a convolution with the same channels, kernel size and groups
/// (asserted); batch, spatial size, stride, padding and dilation may differ.
pub fn conv2d_packed(
    p: &Conv2dParams,
    input: &[f32],
    weight: &PackedConvWeight,
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    let kern = arch::active();
    assert_eq!(
        weight.kernels, kern.name,
        "conv2d_packed: weights packed for another kernel table"
    );
    conv2d_packed_with(kern, p, input, weight, bias, act, out)
}

/// [`conv2d_packed`] with an explicit kernel table (the one the weights were packed for).
pub fn conv2d_packed_with(
    kern: &Kernels,
    p: &Conv2dParams,
    input: &[f32],
    weight: &PackedConvWeight,
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    let q = &weight.params;
    assert!(
        (
            q.in_channels,
            q.out_channels,
            q.kernel_h,
            q.kernel_w,
            q.groups
        ) == (
            p.in_channels,
            p.out_channels,
            p.kernel_h,
            p.kernel_w,
            p.groups
        ) && weight.kernels == kern.name,
        "conv2d_packed: weights packed for {q:?} ({}), used for {p:?} ({})",
        weight.kernels,
        kern.name
    );
    conv2d_impl(kern, p, input, Weight::Packed(weight), bias, act, out)
}

/// The weights of a convolution as given to [`conv2d_impl`].
#[derive(Clone, Copy)]
enum Weight<'a> {
    Raw(&'a [f32]),
    Packed(&'a PackedConvWeight),
}

fn conv2d_impl(
    kern: &Kernels,
    p: &Conv2dParams,
    input: &[f32],
    weight: Weight,
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    if let Err(e) = p.validate() {
        panic!("{e}");
    }
    let d = p.dims();
    let (cin_g, cout_g, ihw, ohw, kk) = (d.cin_g(), d.cout_g(), d.ihw(), d.ohw(), d.kk());
    let ow = d.out_hw.1;
    let raw = match weight {
        Weight::Raw(w) => Some((w, p.out_channels * cin_g * kk)),
        Weight::Packed(_) => None,
    };
    d.assert_lens(input, raw, bias, out);
    if p.batch == 0 || p.out_channels == 0 || ohw == 0 {
        return;
    }
    if cin_g == 1 {
        let Weight::Raw(w) = weight else {
            unreachable!("depthwise weights are never packed")
        };
        depthwise(kern, p, input, w, bias, act, out);
        return;
    }
    let kdim = cin_g * kk;
    let pointwise = kk == 1 && p.stride == (1, 1) && p.padding == (0, 0);
    // Work items: one per (image, group, range of output pixels), each writing its own
    // columns of its own output rows. Pixel ranges are split along whole B panels only when
    // there are fewer (image, group) pairs than threads.
    let pairs = p.batch * p.groups;
    let panels = ohw.div_ceil(NR);
    let macs_per_panel = cout_g.saturating_mul(kdim).saturating_mul(NR).max(1);
    let total_macs = (pairs * panels).saturating_mul(macs_per_panel);
    let threads = parallel::threads();
    let min_macs = parallel::split_threshold(MIN_PAR_MACS);
    let serial = threads <= 1 || total_macs < 2 * min_macs;
    let pixel_parts = if serial || pairs >= threads {
        1
    } else {
        parallel::parts(panels, min_macs.div_ceil(macs_per_panel)).min(threads.div_ceil(pairs))
    };
    let ranges: Vec<(usize, usize)> = parallel::split_even(panels, pixel_parts)
        .into_iter()
        .map(|(p0, p1)| (p0 * NR, (p1 * NR).min(ohw)))
        .collect();
    let mut items = Vec::with_capacity(pairs * ranges.len());
    for (bg, dst) in out.chunks_exact_mut(cout_g * ohw).enumerate() {
        let view = MatMut::new(dst, cout_g, ohw, ohw);
        for (v, &r) in view.split_blocks(&ranges).into_iter().zip(&ranges) {
            items.push((bg / p.groups, bg % p.groups, r, v));
        }
    }
    let run = |(b, g, (j_start, j_end), mut view): (usize, usize, (usize, usize), MatMut)| {
        let c0 = g * cin_g;
        let img = &input[(b * p.in_channels + c0) * ihw..(b * p.in_channels + c0 + cin_g) * ihw];
        let o0 = g * cout_g;
        let a = match weight {
            Weight::Raw(w) => AOperand::Raw {
                a: &w[o0 * kdim..(o0 + cout_g) * kdim],
                lda: kdim,
                trans: false,
            },
            Weight::Packed(pw) => AOperand::Packed(&pw.groups[g]),
        };
        let epi = Epilogue {
            accumulate: false,
            bias: match bias {
                Some(bv) => Bias::PerRow(&bv[o0..o0 + cout_g]),
                None => Bias::None,
            },
            act,
        };
        // General convolutions go through im2col in blocks of output pixels so the packed
        // columns (kdim × block floats) stay in cache for the GEMM that consumes them.
        let len = j_end - j_start;
        let block = if pointwise { len } else { COL_BLOCK.min(len) };
        let mut cols = vec![0f32; block.div_ceil(NR) * NR * kdim];
        for j0 in (j_start..j_end).step_by(block) {
            let cnt = block.min(j_end - j0);
            let cols = &mut cols[..cnt.div_ceil(NR) * NR * kdim];
            if pointwise {
                pack_b_panels(kdim, cnt, &img[j0..], ihw, false, cols);
            } else {
                im2col_panels(p, img, cin_g, ow, j0, cnt, cols);
            }
            let (head, rest) = view.split_cols(cnt);
            view = rest;
            gemm_block(kern, cout_g, kdim, cnt, a, cols, head, &epi);
        }
    };
    if serial {
        items.into_iter().for_each(run);
    } else {
        parallel::for_each(items, run);
    }
}

/// Output pixels per im2col block (a multiple of `NR`).
const COL_BLOCK: usize = 256;

/// Writes the im2col matrix (rows `(c, ky, kx)`) of `img` (`cin` channels) for output
/// pixels `j_start..j_start + count` directly in packed-B panel layout, one panel of `NR`
/// pixels at a time so the writes are sequential. A panel's pixels form runs along output
/// rows; for each run an im2col row is a (zero-extended, strided) slice of one input row.
#[allow(clippy::too_many_arguments)]
fn im2col_panels(
    p: &Conv2dParams,
    img: &[f32],
    cin: usize,
    ow: usize,
    j_start: usize,
    count: usize,
    dst: &mut [f32],
) {
    let kdim = cin * p.kernel_h * p.kernel_w;
    let (ih, iw) = (p.in_h, p.in_w);
    let (sh, sw) = p.stride;
    let (ph, pw) = p.padding;
    let (dh, dw) = p.dilation;
    assert_eq!(dst.len(), count.div_ceil(NR) * NR * kdim);
    for (jp, panel) in dst.chunks_exact_mut(kdim * NR).enumerate() {
        let j0 = j_start + jp * NR;
        let cnt = NR.min(j_start + count - j0);
        // Runs of the panel: (first lane, lanes, output row, first output column).
        let mut runs = [(0usize, 0usize, 0usize, 0usize); NR];
        let mut nruns = 0;
        let mut t = 0;
        while t < cnt {
            let (oy, ox) = ((j0 + t) / ow, (j0 + t) % ow);
            let len = (ow - ox).min(cnt - t);
            runs[nruns] = (t, len, oy, ox);
            nruns += 1;
            t += len;
        }
        let runs = &runs[..nruns];
        let mut rows = panel.chunks_exact_mut(NR);
        for c in 0..cin {
            let plane = &img[c * ih * iw..(c + 1) * ih * iw];
            for ky in 0..p.kernel_h {
                for kx in 0..p.kernel_w {
                    let out = rows.next().expect("kdim rows per panel");
                    for &(t0, len, oy, ox) in runs {
                        let seg = &mut out[t0..t0 + len];
                        let iy = (oy * sh + ky * dh) as isize - ph as isize;
                        if iy < 0 || iy as usize >= ih {
                            seg.fill(0.0);
                            continue;
                        }
                        let src = &plane[iy as usize * iw..(iy as usize + 1) * iw];
                        let ix0 = (ox * sw + kx * dw) as isize - pw as isize;
                        copy_padded(src, ix0, sw, seg);
                    }
                    out[cnt..].fill(0.0);
                }
            }
        }
    }
}

/// `out[t] = src[ix0 + t * step]` where that index is inside `src`, else 0.
#[inline]
fn copy_padded(src: &[f32], ix0: isize, step: usize, out: &mut [f32]) {
    let n = out.len();
    let st = step as isize;
    // First t with ix0 + t*step >= 0, and first t with ix0 + t*step >= len.
    let lo = if ix0 >= 0 {
        0
    } else {
        ix0.unsigned_abs().div_ceil(step)
    }
    .min(n);
    let room = src.len() as isize - ix0;
    let hi = if room <= 0 {
        0
    } else {
        (room as usize).div_ceil(step)
    }
    .clamp(lo, n);
    out[..lo].fill(0.0);
    if hi > lo {
        let s = (ix0 + lo as isize * st) as usize;
        if step == 1 && hi - lo == NR {
            // Whole-panel run: a fixed-size copy compiles to a few vector moves instead of
            // a `memcpy` call.
            let v: [f32; NR] = src[s..s + NR].try_into().expect("NR elements");
            out[lo..hi].copy_from_slice(&v);
        } else if step == 1 {
            out[lo..hi].copy_from_slice(&src[s..s + hi - lo]);
        } else {
            for (o, &v) in out[lo..hi].iter_mut().zip(src[s..].iter().step_by(step)) {
                *o = v;
            }
        }
    }
    out[hi..].fill(0.0);
}

/// Direct convolution when every group has one input channel (depthwise, any multiplier).
fn depthwise(
    kern: &Kernels,
    p: &Conv2dParams,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    let (oh, ow) = (p.out_h(), p.out_w());
    let (ih, iw) = (p.in_h, p.in_w);
    let mult = p.out_channels / p.in_channels;
    let kk = p.kernel_h * p.kernel_w;
    let ohw = oh * ow;
    // Planes (image, output channel) are independent: split them over threads.
    let min_planes = parallel::split_threshold(MIN_PAR_MACS).div_ceil((ohw * kk).max(1));
    parallel::for_each_rows(out, ohw, min_planes, |first, planes| {
        let mut scratch = Vec::new();
        for (i, dst) in planes.chunks_exact_mut(ohw).enumerate() {
            let (b, oc) = ((first + i) / p.out_channels, (first + i) % p.out_channels);
            let ic = oc / mult;
            let mut plane = DwPlane {
                p,
                src: &input[(b * p.in_channels + ic) * ih * iw..][..ih * iw],
                w: &weight[oc * kk..(oc + 1) * kk],
                bias: bias.map_or(0.0, |bv| bv[oc]),
                dst,
                scratch: &mut scratch,
            };
            (kern.dw_plane)(&mut plane);
            apply_with(kern, act, plane.dst);
        }
    });
}

/// One output plane of a depthwise convolution (see [`dw_plane`]).
pub(crate) struct DwPlane<'a> {
    pub p: &'a Conv2dParams,
    /// The input plane (`in_h × in_w`).
    pub src: &'a [f32],
    /// The `kernel_h × kernel_w` filter.
    pub w: &'a [f32],
    pub bias: f32,
    /// The output plane (`out_h × out_w`), overwritten.
    pub dst: &'a mut [f32],
    /// Working memory the SIMD versions may resize and reuse from plane to plane.
    #[cfg_attr(
        not(any(
            target_arch = "x86_64",
            all(target_family = "wasm", target_feature = "simd128")
        )),
        allow(dead_code)
    )]
    pub scratch: &'a mut Vec<f32>,
}

/// Depthwise plane: per output row, each filter tap adds `w · input row` over the range of
/// output columns whose input column is inside the image, so the inner loop has no bounds
/// test and vectorises (contiguous for stride 1). `#[inline(always)]` so each kernel table
/// instantiates it under its own target features.
#[inline(always)]
pub(crate) fn dw_plane(a: &mut DwPlane) {
    let p = a.p;
    let (oh, ow) = (p.out_h(), p.out_w());
    let (ih, iw) = (p.in_h, p.in_w);
    let (sh, sw) = p.stride;
    let (ph, pw) = p.padding;
    let (dh, dw) = p.dilation;
    assert!(
        a.src.len() == ih * iw && a.dst.len() == oh * ow && a.w.len() == p.kernel_h * p.kernel_w
    );
    for oy in 0..oh {
        let drow = &mut a.dst[oy * ow..(oy + 1) * ow];
        drow.fill(a.bias);
        for ky in 0..p.kernel_h {
            let iy = (oy * sh + ky * dh) as isize - ph as isize;
            if iy < 0 || iy as usize >= ih {
                continue;
            }
            let srow = &a.src[iy as usize * iw..(iy as usize + 1) * iw];
            for kx in 0..p.kernel_w {
                let wv = a.w[ky * p.kernel_w + kx];
                // Input column of output column ox: ox * sw + off.
                let off = (kx * dw) as isize - pw as isize;
                let lo = if off >= 0 {
                    0
                } else {
                    (off.unsigned_abs()).div_ceil(sw)
                };
                let room = iw as isize - off; // ox * sw < room
                if room <= 0 {
                    continue;
                }
                let hi = ow.min((room as usize - 1) / sw + 1);
                if lo >= hi {
                    continue;
                }
                let s0 = (lo as isize * sw as isize + off) as usize;
                let d = &mut drow[lo..hi];
                if sw == 1 {
                    for (dv, &sv) in d.iter_mut().zip(&srow[s0..s0 + (hi - lo)]) {
                        *dv += wv * sv;
                    }
                } else {
                    for (dv, &sv) in d.iter_mut().zip(srow[s0..].iter().step_by(sw)) {
                        *dv += wv * sv;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
