//! 2-D convolution (NCHW input, OIHW weight), with fused bias and activation.
//!
//! Paths: depthwise (one input channel per group) is computed directly; everything else is
//! a GEMM per (image, group) — `out[O_g × OH·OW] = W_g[O_g × I_g·KH·KW] · cols` — where the
//! columns are written straight into the GEMM's packed-B panel layout (im2col fused with
//! packing), or, for 1×1 / stride 1 / no padding, packed from the input itself.

use crate::activation::{apply_with, Activation};
use crate::arch::{self, Kernels, NR};
use crate::gemm::{gemm_packed_b, pack_b_panels, Bias, Epilogue};

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
        for s in sizes {
            s.iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| "conv2d: tensor size overflows".to_string())?;
        }
        Ok(())
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
    if let Err(e) = p.validate() {
        panic!("{e}");
    }
    let (oh, ow) = (p.out_h(), p.out_w());
    let cin_g = p.in_channels / p.groups;
    let cout_g = p.out_channels / p.groups;
    let ihw = p.in_h * p.in_w;
    let ohw = oh * ow;
    let kk = p.kernel_h * p.kernel_w;
    assert_eq!(
        input.len(),
        p.batch * p.in_channels * ihw,
        "conv2d: input length"
    );
    assert_eq!(
        weight.len(),
        p.out_channels * cin_g * kk,
        "conv2d: weight length"
    );
    assert_eq!(
        out.len(),
        p.batch * p.out_channels * ohw,
        "conv2d: output length"
    );
    if let Some(b) = bias {
        assert_eq!(b.len(), p.out_channels, "conv2d: bias length");
    }
    if p.batch == 0 || p.out_channels == 0 || ohw == 0 {
        return;
    }
    if cin_g == 1 {
        depthwise(kern, p, input, weight, bias, act, out);
        return;
    }
    let kdim = cin_g * kk;
    let pointwise = kk == 1 && p.stride == (1, 1) && p.padding == (0, 0);
    let mut cols = vec![0f32; ohw.div_ceil(NR) * NR * kdim];
    for b in 0..p.batch {
        for g in 0..p.groups {
            let c0 = g * cin_g;
            let img =
                &input[(b * p.in_channels + c0) * ihw..(b * p.in_channels + c0 + cin_g) * ihw];
            if pointwise {
                pack_b_panels(kdim, ohw, img, ihw, false, &mut cols);
            } else {
                im2col_panels(p, img, cin_g, oh, ow, &mut cols);
            }
            let o0 = g * cout_g;
            let w = &weight[o0 * kdim..(o0 + cout_g) * kdim];
            let dst =
                &mut out[(b * p.out_channels + o0) * ohw..(b * p.out_channels + o0 + cout_g) * ohw];
            let epi = Epilogue {
                accumulate: false,
                bias: match bias {
                    Some(bv) => Bias::PerRow(&bv[o0..o0 + cout_g]),
                    None => Bias::None,
                },
                act,
            };
            gemm_packed_b(
                kern, cout_g, kdim, ohw, w, kdim, false, &cols, dst, ohw, &epi,
            );
        }
    }
}

/// Writes the im2col matrix (rows `(c, ky, kx)`, columns output pixels) of `img`
/// (`cin` channels) directly in packed-B panel layout.
fn im2col_panels(p: &Conv2dParams, img: &[f32], cin: usize, oh: usize, ow: usize, dst: &mut [f32]) {
    let kdim = cin * p.kernel_h * p.kernel_w;
    let (sh, sw) = p.stride;
    let (ph, pw) = p.padding;
    let (dh, dw) = p.dilation;
    let ohw = oh * ow;
    let panel_stride = kdim * NR;
    // Zero the padding columns of the last panel.
    let tail = ohw % NR;
    if tail != 0 {
        let last = &mut dst[(ohw / NR) * panel_stride..];
        for row in last.chunks_exact_mut(NR) {
            row[tail..].fill(0.0);
        }
    }
    let mut row = 0;
    for c in 0..cin {
        let plane = &img[c * p.in_h * p.in_w..(c + 1) * p.in_h * p.in_w];
        for ky in 0..p.kernel_h {
            for kx in 0..p.kernel_w {
                let mut j = 0;
                for oy in 0..oh {
                    let iy = (oy * sh + ky * dh) as isize - ph as isize;
                    let row_ok = iy >= 0 && (iy as usize) < p.in_h;
                    for ox in 0..ow {
                        let ix = (ox * sw + kx * dw) as isize - pw as isize;
                        let v = if row_ok && ix >= 0 && (ix as usize) < p.in_w {
                            plane[iy as usize * p.in_w + ix as usize]
                        } else {
                            0.0
                        };
                        dst[(j / NR) * panel_stride + row * NR + j % NR] = v;
                        j += 1;
                    }
                }
                row += 1;
            }
        }
    }
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
    let (sh, sw) = p.stride;
    let (ph, pw) = p.padding;
    let (dh, dw) = p.dilation;
    for b in 0..p.batch {
        for oc in 0..p.out_channels {
            let ic = oc / mult;
            let plane = &input[(b * p.in_channels + ic) * ih * iw..][..ih * iw];
            let w = &weight[oc * kk..(oc + 1) * kk];
            let dst = &mut out[(b * p.out_channels + oc) * oh * ow..][..oh * ow];
            let b0 = bias.map_or(0.0, |bv| bv[oc]);
            for oy in 0..oh {
                let drow = &mut dst[oy * ow..(oy + 1) * ow];
                drow.fill(b0);
                for ky in 0..p.kernel_h {
                    let iy = (oy * sh + ky * dh) as isize - ph as isize;
                    if iy < 0 || iy as usize >= ih {
                        continue;
                    }
                    let srow = &plane[iy as usize * iw..(iy as usize + 1) * iw];
                    for kx in 0..p.kernel_w {
                        let wv = w[ky * p.kernel_w + kx];
                        for (ox, d) in drow.iter_mut().enumerate() {
                            let ix = (ox * sw + kx * dw) as isize - pw as isize;
                            if ix >= 0 && (ix as usize) < iw {
                                *d += wv * srow[ix as usize];
                            }
                        }
                    }
                }
            }
            apply_with(kern, act, dst);
        }
    }
}

#[cfg(test)]
mod tests;
