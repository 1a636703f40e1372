//! int8 convolution on the int8 GEMM: for each output pixel the receptive field is
//! gathered into one row of `C·KH·KW` values (im2row, the transpose of im2col), the rows are
//! quantized per pixel at run time ([`super::quantize_rows_as`], the same scheme as the
//! Linear path on the same table), multiplied with the per-output-channel int8 weights ([`PackedI8`],
//! `O × C·KH·KW`, exactly an OIHW weight's row-major layout) in i32, and the rescale, bias
//! and activation are fused into the store, which writes NCHW directly.
//!
//! Why im2row and per-pixel scales: the int8 tiles multiply quantized *rows* of the
//! activation operand with packed weight panels, so the pixel must be the row; a scale per
//! pixel (rather than per tensor) follows the activation's range as closely as the Linear
//! path's per-token scale does, with no calibration.
//!
//! Only ungrouped convolutions (`groups == 1`) take this path; grouped and depthwise ones
//! stay on the f32 kernels (their GEMMs are tiny and memory bound).

use super::{PackedI8, QKernels, QuantRows};
use crate::activation::Activation;
use crate::conv::Conv2dParams;
use crate::gemm::MatMut;
use crate::parallel;

/// Output pixels gathered and quantized at a time (bounds the im2row buffer to
/// `PIX · C·KH·KW` floats per thread).
const PIX: usize = 128;

/// Least multiply-adds per thread worth a fork/join (the int8 GEMM's figure).
const MIN_PAR_MACS: usize = if cfg!(test) { 64 } else { 1 << 21 };

/// `out = act(conv2d(x, W) + bias)` with `W` int8 (`O × C·KH·KW`, per output channel) on
/// the active table. `x` is NCHW f32, `out` NCHW f32 of `p`'s output size. Preconditions
/// (asserted): `p` is valid ([`Conv2dParams::validate`]), `p.groups == 1`, `w` has
/// `p.out_channels` rows of `C·KH·KW` inputs, the slices have the parameters' sizes.
pub fn qconv2d_i8(
    p: &Conv2dParams,
    x: &[f32],
    w: &PackedI8,
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    qconv2d_i8_with(super::active(), p, x, w, bias, act, out)
}

/// [`qconv2d_i8`] with an explicit table.
pub fn qconv2d_i8_with(
    qk: &QKernels,
    p: &Conv2dParams,
    x: &[f32],
    w: &PackedI8,
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    p.validate().expect("qconv2d_i8: invalid parameters");
    assert_eq!(p.groups, 1, "qconv2d_i8: grouped convolution");
    let k = p.in_channels * p.kernel_h * p.kernel_w;
    let (o, oh, ow) = (p.out_channels, p.out_h(), p.out_w());
    let pix = oh * ow;
    assert!(w.n() == o && w.k() == k, "qconv2d_i8: weight shape");
    assert_eq!(x.len(), p.batch * p.in_channels * p.in_h * p.in_w);
    assert_eq!(out.len(), p.batch * o * pix);
    if let Some(b) = bias {
        assert_eq!(b.len(), o, "qconv2d_i8: bias length");
    }
    if pix == 0 || o == 0 {
        return;
    }
    let image = p.in_channels * p.in_h * p.in_w;
    let per_pixel = k.saturating_mul(o).max(1);
    for (img, y) in out.chunks_exact_mut(o * pix).enumerate() {
        let xi = &x[img * image..(img + 1) * image];
        let parts = parallel::parts(
            pix,
            parallel::split_threshold(MIN_PAR_MACS).div_ceil(per_pixel),
        );
        let ranges = parallel::split_even(pix, parts);
        let views = MatMut::new(y, o, pix, pix).split_blocks(&ranges);
        parallel::for_each(views.into_iter().zip(ranges).collect(), |(view, (s, e))| {
            pixels(qk, p, xi, w, bias, act, s, e, view)
        });
    }
}

/// Output pixels `s..e` of one image into `view` (`O × (e - s)`, those columns of NCHW):
/// per chunk of pixels, gather their rows, quantize them in the table's scheme, run the
/// int8 GEMM (epilogue fused) into a pixel-major scratch block and transpose that into
/// NCHW (contiguous runs of pixels per channel, where storing each output straight from
/// the tile would write one float per channel row).
#[allow(clippy::too_many_arguments)]
fn pixels(
    qk: &QKernels,
    p: &Conv2dParams,
    x: &[f32],
    w: &PackedI8,
    bias: Option<&[f32]>,
    act: Activation,
    s: usize,
    e: usize,
    mut view: MatMut,
) {
    let k = w.k();
    let o = w.n();
    let chunk = PIX.min(e - s);
    let mut rows = vec![0f32; chunk * k];
    let mut block = vec![0f32; chunk * o];
    let mut q = QuantRows::default();
    for c0 in (s..e).step_by(PIX) {
        let c1 = (c0 + PIX).min(e);
        let m = c1 - c0;
        gather(p, x, c0, m, &mut rows[..m * k]);
        super::quantize_rows_as(qk.act, m, k, &rows, k, &mut q);
        super::int8::check_format(qk, &q);
        let out = MatMut::new(&mut block[..m * o], m, o, o);
        super::int8::block(qk, &q, w, 0, o, bias, act, out);
        for j in 0..o {
            let dst = view.row_part(j, c0 - s, m);
            for (d, r) in dst.iter_mut().zip(block.chunks_exact(o)) {
                *d = r[j];
            }
        }
    }
}

/// The receptive fields of the `m` output pixels from `px0` on (row-major over the output
/// plane) as rows of `rows` (`m × k`), each in the weight's `(c, ky, kx)` order, zero
/// where it falls in the padding. Loop order: per run of pixels within one output row and
/// per `(c, ky, kx)`, the inner loop walks the pixels, reading one input row at the
/// stride and storing down a column of `rows`: no per-value index arithmetic beyond one
/// add, and no tiny copies (per-pixel kernel-row copies cost ~3 ns a value in wasm).
fn gather(p: &Conv2dParams, x: &[f32], px0: usize, m: usize, rows: &mut [f32]) {
    let k = p.in_channels * p.kernel_h * p.kernel_w;
    let (ow, iw) = (p.out_w(), p.in_w);
    let plane = p.in_h * iw;
    let mut r0 = 0;
    while r0 < m {
        let (oy, ox0) = ((px0 + r0) / ow, (px0 + r0) % ow);
        let seg = (ow - ox0).min(m - r0);
        let block = &mut rows[r0 * k..(r0 + seg) * k];
        let mut idx = 0;
        for c in 0..p.in_channels {
            let xc = &x[c * plane..(c + 1) * plane];
            for ky in 0..p.kernel_h {
                let iy = (oy * p.stride.0 + ky * p.dilation.0).wrapping_sub(p.padding.0);
                for kx in 0..p.kernel_w {
                    let col = block[idx..].iter_mut().step_by(k);
                    if iy >= p.in_h {
                        col.for_each(|d| *d = 0.0);
                    } else {
                        let xrow = &xc[iy * iw..(iy + 1) * iw];
                        let mut ix =
                            (ox0 * p.stride.1 + kx * p.dilation.1).wrapping_sub(p.padding.1);
                        for d in col {
                            *d = if ix < iw { xrow[ix] } else { 0.0 };
                            ix = ix.wrapping_add(p.stride.1);
                        }
                    }
                    idx += 1;
                }
            }
        }
        r0 += seg;
    }
}
