//! 2-D transposed convolution (PyTorch `ConvTranspose2d`): GEMM to columns, then col2im.

use crate::activation::{apply_with, Activation};
use crate::arch::{self, Kernels};
use crate::conv::dims::{check_sizes, conv_dims, ConvDims};
use crate::gemm::sgemm_with;

/// Shape and hyper-parameters of a 2-D transposed convolution (PyTorch semantics).
/// Weight layout: `in_channels × out_channels/groups × kernel_h × kernel_w`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvTranspose2dParams {
    /// Images in the batch (N).
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height.
    pub kernel_h: usize,
    /// Kernel width.
    pub kernel_w: usize,
    /// (vertical, horizontal) stride.
    pub stride: (usize, usize),
    /// (vertical, horizontal) padding removed from each side of the full output.
    pub padding: (usize, usize),
    /// (vertical, horizontal) extra size added to one side of the output.
    pub output_padding: (usize, usize),
    /// (vertical, horizontal) dilation.
    pub dilation: (usize, usize),
    /// Channel groups.
    pub groups: usize,
}

fn out_len(inp: usize, s: usize, p: usize, d: usize, k: usize, op: usize) -> Option<usize> {
    // (in - 1) * s - 2p + d (k - 1) + op + 1
    let full = inp
        .checked_sub(1)?
        .checked_mul(s)?
        .checked_add(d.checked_mul(k.checked_sub(1)?)?)?
        .checked_add(op)?
        .checked_add(1)?;
    full.checked_sub(p.checked_mul(2)?).filter(|&v| v > 0)
}

impl ConvTranspose2dParams {
    /// Output height `(in_h − 1)·s − 2p + d·(kh − 1) + output_padding + 1`; 0 if invalid.
    pub fn out_h(&self) -> usize {
        out_len(
            self.in_h,
            self.stride.0,
            self.padding.0,
            self.dilation.0,
            self.kernel_h,
            self.output_padding.0,
        )
        .unwrap_or(0)
    }

    /// Output width (same formula as [`out_h`](Self::out_h)).
    pub fn out_w(&self) -> usize {
        out_len(
            self.in_w,
            self.stride.1,
            self.padding.1,
            self.dilation.1,
            self.kernel_w,
            self.output_padding.1,
        )
        .unwrap_or(0)
    }

    /// PyTorch's checks: positive sizes, channels divisible by groups, output padding
    /// smaller than stride or dilation, a positive output size, sizes that fit in `usize`.
    pub fn validate(&self) -> Result<(), String> {
        if self.groups == 0
            || self.in_channels % self.groups != 0
            || self.out_channels % self.groups != 0
        {
            return Err(format!(
                "conv_transpose2d: in_channels {} and out_channels {} must be divisible by groups {}",
                self.in_channels, self.out_channels, self.groups
            ));
        }
        if self.kernel_h == 0 || self.kernel_w == 0 || self.stride.0 == 0 || self.stride.1 == 0 {
            return Err("conv_transpose2d: kernel size and stride must be positive".into());
        }
        if self.dilation.0 == 0 || self.dilation.1 == 0 {
            return Err("conv_transpose2d: dilation must be positive".into());
        }
        let (op, s, d) = (self.output_padding, self.stride, self.dilation);
        if (op.0 >= s.0 && op.0 >= d.0) || (op.1 >= s.1 && op.1 >= d.1) {
            return Err(
                "conv_transpose2d: output padding must be smaller than either stride or dilation"
                    .into(),
            );
        }
        if self.in_h == 0 || self.in_w == 0 || self.out_h() == 0 || self.out_w() == 0 {
            return Err("conv_transpose2d: empty input or non-positive output size".into());
        }
        let kk = self.kernel_h.checked_mul(self.kernel_w);
        let sizes = [
            [self.batch, self.in_channels, self.in_h, self.in_w],
            [self.batch, self.out_channels, self.out_h(), self.out_w()],
            [
                self.in_channels,
                self.out_channels / self.groups,
                kk.unwrap_or(usize::MAX),
                1,
            ],
            // The column buffer: (out_channels/groups · kh · kw) × in_h · in_w.
            [
                self.out_channels / self.groups,
                kk.unwrap_or(usize::MAX),
                self.in_h,
                self.in_w,
            ],
        ];
        check_sizes("conv_transpose2d", &sizes)
    }

    fn dims(&self) -> ConvDims {
        conv_dims!(self, "conv_transpose2d")
    }
}

/// Transposed convolution: `out = act(conv_transpose(input, weight) + bias)`.
///
/// Layouts: `input` N×C×H×W, `weight` C×(O/groups)×KH×KW, `bias` length O, `out`
/// N×O×OH×OW. Preconditions (asserted): `p.validate()` is `Ok`, slice lengths match.
pub fn conv_transpose2d(
    p: &ConvTranspose2dParams,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    conv_transpose2d_with(arch::active(), p, input, weight, bias, act, out)
}

/// [`conv_transpose2d`] with an explicit kernel table.
pub fn conv_transpose2d_with(
    kern: &Kernels,
    p: &ConvTranspose2dParams,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    if let Err(e) = p.validate() {
        panic!("{e}");
    }
    let d = p.dims();
    let (cin_g, cout_g, ihw, kk) = (d.cin_g(), d.cout_g(), d.ihw(), d.kk());
    let (oh, ow) = d.out_hw;
    d.assert_lens(
        input,
        Some((weight, p.in_channels * cout_g * kk)),
        bias,
        out,
    );
    let rows = cout_g * kk;
    let mut cols = vec![0f32; rows * ihw];
    for b in 0..p.batch {
        for g in 0..p.groups {
            // cols[(oc, ky, kx) × pixel] = W_gᵀ · x_g, W_g stored cin_g × rows.
            let x = &input[(b * p.in_channels + g * cin_g) * ihw..][..cin_g * ihw];
            let w = &weight[g * cin_g * rows..][..cin_g * rows];
            sgemm_with(
                kern, rows, ihw, cin_g, w, rows, true, x, ihw, false, &mut cols, ihw, false,
            );
            for oc in 0..cout_g {
                let o = b * p.out_channels + g * cout_g + oc;
                let plane = &mut out[o * oh * ow..(o + 1) * oh * ow];
                plane.fill(bias.map_or(0.0, |bv| bv[g * cout_g + oc]));
                for ky in 0..p.kernel_h {
                    for kx in 0..p.kernel_w {
                        let row = &cols[((oc * p.kernel_h + ky) * p.kernel_w + kx) * ihw..][..ihw];
                        col2im_row(p, row, ky, kx, oh, ow, plane);
                    }
                }
                apply_with(kern, act, plane);
            }
        }
    }
}

/// Scatter-adds one column row (tap `ky, kx`) into the output plane.
fn col2im_row(
    p: &ConvTranspose2dParams,
    row: &[f32],
    ky: usize,
    kx: usize,
    oh: usize,
    ow: usize,
    plane: &mut [f32],
) {
    let (sh, sw) = p.stride;
    let (ph, pw) = p.padding;
    for iy in 0..p.in_h {
        let oy = (iy * sh + ky * p.dilation.0) as isize - ph as isize;
        if oy < 0 || oy as usize >= oh {
            continue;
        }
        let dst = &mut plane[oy as usize * ow..(oy as usize + 1) * ow];
        let src = &row[iy * p.in_w..(iy + 1) * p.in_w];
        let off = (kx * p.dilation.1) as isize - pw as isize;
        for (ix, &v) in src.iter().enumerate() {
            let ox = (ix * sw) as isize + off;
            if ox >= 0 && (ox as usize) < ow {
                dst[ox as usize] += v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::available;
    use proptest::prelude::*;

    fn naive(p: &ConvTranspose2dParams, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
        let (oh, ow) = (p.out_h(), p.out_w());
        let cin_g = p.in_channels / p.groups;
        let cout_g = p.out_channels / p.groups;
        let mut out = vec![0f64; p.batch * p.out_channels * oh * ow];
        for b in 0..p.batch {
            for oc in 0..p.out_channels {
                let base = (b * p.out_channels + oc) * oh * ow;
                for v in &mut out[base..base + oh * ow] {
                    *v = bias.map_or(0.0, |bv| bv[oc] as f64);
                }
            }
            for ci in 0..p.in_channels {
                let g = ci / cin_g;
                for iy in 0..p.in_h {
                    for ix in 0..p.in_w {
                        let xv = x[((b * p.in_channels + ci) * p.in_h + iy) * p.in_w + ix] as f64;
                        for oc_g in 0..cout_g {
                            let oc = g * cout_g + oc_g;
                            for ky in 0..p.kernel_h {
                                for kx in 0..p.kernel_w {
                                    let oy = (iy * p.stride.0 + ky * p.dilation.0) as isize
                                        - p.padding.0 as isize;
                                    let ox = (ix * p.stride.1 + kx * p.dilation.1) as isize
                                        - p.padding.1 as isize;
                                    if oy < 0 || ox < 0 || oy as usize >= oh || ox as usize >= ow {
                                        continue;
                                    }
                                    let wv = w
                                        [((ci * cout_g + oc_g) * p.kernel_h + ky) * p.kernel_w + kx]
                                        as f64;
                                    out[((b * p.out_channels + oc) * oh + oy as usize) * ow
                                        + ox as usize] += xv * wv;
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn params() -> impl Strategy<Value = ConvTranspose2dParams> {
        (
            (1usize..3, 1usize..4, 1usize..4, 1usize..3),
            (1usize..6, 1usize..6, 1usize..4, 1usize..4),
            (
                (1usize..3, 1usize..3),
                (0usize..2, 0usize..2),
                (0usize..2, 0usize..2),
                (1usize..3, 1usize..3),
            ),
        )
            .prop_map(
                |(
                    (batch, cg, og, groups),
                    (in_h, in_w, kernel_h, kernel_w),
                    (stride, padding, output_padding, dilation),
                )| {
                    ConvTranspose2dParams {
                        batch,
                        in_channels: cg * groups,
                        in_h,
                        in_w,
                        out_channels: og * groups,
                        kernel_h,
                        kernel_w,
                        stride,
                        padding,
                        output_padding,
                        dilation,
                        groups,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn matches_naive(p in params(), with_bias: bool) {
            prop_assume!(p.validate().is_ok());
            let x: Vec<f32> = (0..p.batch * p.in_channels * p.in_h * p.in_w).map(|i| ((i * 13 % 17) as f32 - 8.0) / 8.0).collect();
            let w: Vec<f32> = (0..p.in_channels * p.out_channels / p.groups * p.kernel_h * p.kernel_w).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
            let b: Vec<f32> = (0..p.out_channels).map(|i| i as f32 * 0.25 - 0.5).collect();
            let bias = with_bias.then_some(&b[..]);
            let want = naive(&p, &x, &w, bias);
            for k in available() {
                let mut out = vec![f32::NAN; want.len()];
                conv_transpose2d_with(k, &p, &x, &w, bias, Activation::None, &mut out);
                for (g, wv) in out.iter().zip(&want) {
                    prop_assert!((*g as f64 - wv).abs() <= 1e-4, "{} {:?}: {} vs {}", k.name, p, g, wv);
                }
            }
        }
    }

    #[test]
    fn output_size_and_validation() {
        let p = ConvTranspose2dParams {
            batch: 1,
            in_channels: 2,
            in_h: 4,
            in_w: 5,
            out_channels: 3,
            kernel_h: 3,
            kernel_w: 3,
            stride: (2, 2),
            padding: (1, 1),
            output_padding: (1, 0),
            dilation: (1, 1),
            groups: 1,
        };
        assert!(p.validate().is_ok());
        // (4-1)*2 - 2 + 2 + 1 + 1 = 8; (5-1)*2 - 2 + 2 + 0 + 1 = 9.
        assert_eq!((p.out_h(), p.out_w()), (8, 9));
        assert!(ConvTranspose2dParams {
            output_padding: (2, 0),
            ..p.clone()
        }
        .validate()
        .is_err());
        assert!(ConvTranspose2dParams {
            groups: 2,
            ..p.clone()
        }
        .validate()
        .is_err());
        assert!(ConvTranspose2dParams {
            padding: (5, 5),
            ..p
        }
        .validate()
        .is_err());
    }
}
