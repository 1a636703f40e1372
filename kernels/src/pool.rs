//! 2-D max / average / adaptive-average pooling over NCHW tensors, with PyTorch's exact
//! output-size and window rules (including `ceil_mode` and `count_include_pad`).

/// Shape and hyper-parameters of a 2-D pooling (PyTorch `MaxPool2d` / `AvgPool2d`).
#[derive(Clone, Debug, PartialEq)]
pub struct Pool2dParams {
    /// Images in the batch (N).
    pub batch: usize,
    /// Channels (C).
    pub channels: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// (height, width) of the window.
    pub kernel: (usize, usize),
    /// (vertical, horizontal) stride.
    pub stride: (usize, usize),
    /// (vertical, horizontal) implicit padding on each side (-inf for max, 0 for avg).
    pub padding: (usize, usize),
    /// (vertical, horizontal) dilation; average pooling requires (1, 1).
    pub dilation: (usize, usize),
    /// Round the output size up instead of down (windows must still start inside the
    /// input or left padding).
    pub ceil_mode: bool,
    /// Average pooling: count padded positions in the divisor.
    pub count_include_pad: bool,
}

/// PyTorch's `pooling_output_shape`: `None` when the result would be < 1 or overflow.
fn pool_out(
    inp: usize,
    k: usize,
    pad: usize,
    stride: usize,
    dil: usize,
    ceil: bool,
) -> Option<usize> {
    if stride == 0 || k == 0 || dil == 0 {
        return None;
    }
    let span = dil.checked_mul(k - 1)?.checked_add(1)?;
    let total = inp.checked_add(pad.checked_mul(2)?)?;
    let num = total as i128 - span as i128 + if ceil { stride as i128 - 1 } else { 0 };
    // div_rtn: floor division.
    let mut out = num.div_euclid(stride as i128) + 1;
    if ceil && (out - 1) * stride as i128 >= inp as i128 + pad as i128 {
        out -= 1;
    }
    if out < 1 {
        None
    } else {
        usize::try_from(out).ok()
    }
}

impl Pool2dParams {
    /// Output height (PyTorch formula incl. the `ceil_mode` rule). Call after `validate`.
    pub fn out_h(&self) -> usize {
        pool_out(
            self.in_h,
            self.kernel.0,
            self.padding.0,
            self.stride.0,
            self.dilation.0,
            self.ceil_mode,
        )
        .unwrap_or(0)
    }

    /// Output width (PyTorch formula incl. the `ceil_mode` rule). Call after `validate`.
    pub fn out_w(&self) -> usize {
        pool_out(
            self.in_w,
            self.kernel.1,
            self.padding.1,
            self.stride.1,
            self.dilation.1,
            self.ceil_mode,
        )
        .unwrap_or(0)
    }

    /// PyTorch's checks: positive kernel/stride/dilation, padding at most half the kernel,
    /// output size at least 1, sizes that fit in `usize`.
    pub fn validate(&self) -> Result<(), String> {
        let (kh, kw) = self.kernel;
        if kh == 0 || kw == 0 || self.stride.0 == 0 || self.stride.1 == 0 {
            return Err("pool2d: kernel size and stride must be positive".into());
        }
        if self.dilation.0 == 0 || self.dilation.1 == 0 {
            return Err("pool2d: dilation must be positive".into());
        }
        if self.padding.0 > kh / 2 || self.padding.1 > kw / 2 {
            return Err(format!(
                "pool2d: padding {:?} should be at most half of kernel size {:?}",
                self.padding, self.kernel
            ));
        }
        let oh = pool_out(
            self.in_h,
            kh,
            self.padding.0,
            self.stride.0,
            self.dilation.0,
            self.ceil_mode,
        );
        let ow = pool_out(
            self.in_w,
            kw,
            self.padding.1,
            self.stride.1,
            self.dilation.1,
            self.ceil_mode,
        );
        let (Some(oh), Some(ow)) = (oh, ow) else {
            return Err(format!(
                "pool2d: output size is too small for input {}x{}",
                self.in_h, self.in_w
            ));
        };
        for s in [
            [self.batch, self.channels, self.in_h, self.in_w],
            [self.batch, self.channels, oh, ow],
        ] {
            s.iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .ok_or_else(|| "pool2d: tensor size overflows".to_string())?;
        }
        Ok(())
    }

    fn check(&self, input: &[f32], out: &[f32]) -> (usize, usize) {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let (oh, ow) = (self.out_h(), self.out_w());
        let planes = self.batch * self.channels;
        assert_eq!(
            input.len(),
            planes * self.in_h * self.in_w,
            "pool2d: input length"
        );
        assert_eq!(out.len(), planes * oh * ow, "pool2d: output length");
        (oh, ow)
    }
}

/// Max pooling; padding acts as -inf and NaN wins (as in PyTorch). When `indices` is given
/// (same length as `out`) it receives the flat `y * in_w + x` position of each maximum in
/// its input plane. Preconditions (asserted): `p.validate()` is `Ok`, slice lengths match.
pub fn max_pool2d(
    p: &Pool2dParams,
    input: &[f32],
    out: &mut [f32],
    mut indices: Option<&mut [i64]>,
) {
    let (oh, ow) = p.check(input, out);
    if let Some(ix) = indices.as_deref() {
        assert_eq!(ix.len(), out.len(), "max_pool2d: indices length");
    }
    if indices.is_none() {
        max_pool2d_rows(p, input, out, oh, ow);
        return;
    }
    let (ih, iw) = (p.in_h as isize, p.in_w as isize);
    let (kh, kw) = (p.kernel.0 as isize, p.kernel.1 as isize);
    let (dh, dw) = (p.dilation.0 as isize, p.dilation.1 as isize);
    let planes = p.batch * p.channels;
    for pl in 0..planes {
        let src = &input[pl * p.in_h * p.in_w..(pl + 1) * p.in_h * p.in_w];
        for oy in 0..oh {
            let mut h0 = (oy * p.stride.0) as isize - p.padding.0 as isize;
            let h1 = (h0 + (kh - 1) * dh + 1).min(ih);
            while h0 < 0 {
                h0 += dh;
            }
            for ox in 0..ow {
                let mut w0 = (ox * p.stride.1) as isize - p.padding.1 as isize;
                let w1 = (w0 + (kw - 1) * dw + 1).min(iw);
                while w0 < 0 {
                    w0 += dw;
                }
                let mut best = f32::NEG_INFINITY;
                let mut best_i = h0 * iw + w0;
                let mut y = h0;
                while y < h1 {
                    let mut x = w0;
                    while x < w1 {
                        let i = y * iw + x;
                        let v = src[i as usize];
                        if v > best || v.is_nan() {
                            best = v;
                            best_i = i;
                        }
                        x += dw;
                    }
                    y += dh;
                }
                let o = pl * oh * ow + oy * ow + ox;
                out[o] = best;
                if let Some(ix) = indices.as_deref_mut() {
                    ix[o] = best_i as i64;
                }
            }
        }
    }
}

/// Max pooling without indices, one output row at a time: each window tap updates the
/// range of output columns whose input column is inside the image, so the inner loop has
/// no bounds test and vectorises. Taps are visited in PyTorch's (y, x) order, so NaN
/// handling matches the per-window loop.
fn max_pool2d_rows(p: &Pool2dParams, input: &[f32], out: &mut [f32], oh: usize, ow: usize) {
    let (ih, iw) = (p.in_h, p.in_w);
    // Planes are independent: split them over threads when there are enough outputs.
    let min_planes = crate::parallel::split_threshold(MIN_PAR_OUTPUTS)
        .div_ceil((oh * ow * p.kernel.0 * p.kernel.1).max(1));
    crate::parallel::for_each_rows(out, oh * ow, min_planes, |first, dsts| {
        let srcs = &input[first * ih * iw..];
        max_pool2d_planes(p, srcs, dsts, oh, ow);
    });
}

/// Least window taps per thread worth a fork/join for max pooling (~50 µs).
const MIN_PAR_OUTPUTS: usize = if cfg!(test) { 16 } else { 1 << 18 };

/// [`max_pool2d_rows`] over the planes of `out` (and the matching planes of `input`).
///
/// With a column stride `sw` > 1 each input plane is first split by column phase
/// (`x mod sw`, see [`split_phases`]), so every tap reads one contiguous run of its phase and
/// the inner loop vectorises as in the stride-1 case. The strided loop it replaces ran
/// scalar: 9.8 of squeezenet1_1's 35 ms in the wasm relaxed build went to its three 3×3/2
/// pools.
fn max_pool2d_planes(p: &Pool2dParams, input: &[f32], out: &mut [f32], oh: usize, ow: usize) {
    let (ih, iw) = (p.in_h, p.in_w);
    let (sh, sw) = p.stride;
    let (ph, pw) = p.padding;
    let (dh, dw) = p.dilation;
    // Phase rows of the current plane: row iy, phase r at `(iy * sw + r) * plen`.
    let plen = iw.div_ceil(sw.max(1));
    let mut phases = if sw > 1 {
        vec![0f32; ih * sw * plen]
    } else {
        Vec::new()
    };
    for (src, dst) in input
        .chunks_exact(ih * iw)
        .zip(out.chunks_exact_mut(oh * ow))
    {
        if sw > 1 {
            split_phases(src, iw, sw, plen, &mut phases);
        }
        for (oy, drow) in dst.chunks_exact_mut(ow).enumerate() {
            drow.fill(f32::NEG_INFINITY);
            for ky in 0..p.kernel.0 {
                let iy = (oy * sh + ky * dh) as isize - ph as isize;
                if iy < 0 || iy as usize >= ih {
                    continue;
                }
                let iy = iy as usize;
                for kx in 0..p.kernel.1 {
                    // Input column of output column ox: ox * sw + off.
                    let off = (kx * dw) as isize - pw as isize;
                    let lo = if off >= 0 {
                        0
                    } else {
                        off.unsigned_abs().div_ceil(sw)
                    };
                    let room = iw as isize - off;
                    if room <= 0 {
                        continue;
                    }
                    let hi = ow.min((room as usize - 1) / sw + 1);
                    if lo >= hi {
                        continue;
                    }
                    let s0 = (lo as isize * sw as isize + off) as usize;
                    // Output columns lo..hi read input columns s0, s0 + sw, ...: in the phase
                    // layout that is phase s0 % sw from index s0 / sw on, contiguous (every
                    // index read holds a real column: the last is < iw by the choice of hi).
                    let run = if sw == 1 {
                        &src[iy * iw + s0..(iy + 1) * iw]
                    } else {
                        let row = (iy * sw + s0 % sw) * plen;
                        &phases[row + s0 / sw..row + plen]
                    };
                    // A select, not a branch, so the loop vectorises; NaN wins as in PyTorch.
                    for (d, &v) in drow[lo..hi].iter_mut().zip(run) {
                        *d = if v > *d || v.is_nan() { v } else { *d };
                    }
                }
            }
        }
    }
}

/// Splits each row of the `iw`-wide plane `src` by column phase: row `y`, phase `r`
/// (columns `r, r + sw, r + 2 sw, ...`) goes to `dst[(y * sw + r) * plen..]`. Phases with
/// fewer than `plen` columns leave their last slot as it was (never read).
fn split_phases(src: &[f32], iw: usize, sw: usize, plen: usize, dst: &mut [f32]) {
    for (y, row) in src.chunks_exact(iw).enumerate() {
        let base = y * sw * plen;
        if sw == 2 {
            let (even, odd) = dst[base..base + 2 * plen].split_at_mut(plen);
            for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
                *e = pair[0];
                *o = pair[1];
            }
            if iw % 2 == 1 {
                even[iw / 2] = row[iw - 1];
            }
        } else {
            for r in 0..sw.min(iw) {
                let phase = &mut dst[base + r * plen..base + (r + 1) * plen];
                for (d, ch) in phase.iter_mut().zip(row[r..].chunks(sw)) {
                    *d = ch[0];
                }
            }
        }
    }
}

/// Average pooling (PyTorch `avg_pool2d`): the divisor is `divisor_override` if given,
/// else the window size clipped to the padded input (`count_include_pad`) or to the input.
/// Preconditions (asserted): `p.validate()` is `Ok`, `p.dilation == (1, 1)`, lengths match,
/// `divisor_override != Some(0)`.
pub fn avg_pool2d(
    p: &Pool2dParams,
    input: &[f32],
    out: &mut [f32],
    divisor_override: Option<usize>,
) {
    let (oh, ow) = p.check(input, out);
    assert_eq!(p.dilation, (1, 1), "avg_pool2d: dilation is not supported");
    assert_ne!(
        divisor_override,
        Some(0),
        "avg_pool2d: divisor must be non-zero"
    );
    let (ih, iw) = (p.in_h as isize, p.in_w as isize);
    let (ph, pw) = (p.padding.0 as isize, p.padding.1 as isize);
    let planes = p.batch * p.channels;
    for pl in 0..planes {
        let src = &input[pl * p.in_h * p.in_w..(pl + 1) * p.in_h * p.in_w];
        for oy in 0..oh {
            let h0 = (oy * p.stride.0) as isize - ph;
            let h1 = (h0 + p.kernel.0 as isize).min(ih + ph);
            for ox in 0..ow {
                let w0 = (ox * p.stride.1) as isize - pw;
                let w1 = (w0 + p.kernel.1 as isize).min(iw + pw);
                let pool_size = (h1 - h0) * (w1 - w0);
                let (ch0, cw0, ch1, cw1) = (h0.max(0), w0.max(0), h1.min(ih), w1.min(iw));
                let o = pl * oh * ow + oy * ow + ox;
                if ch0 >= ch1 || cw0 >= cw1 {
                    out[o] = 0.0;
                    continue;
                }
                let mut sum = 0f32;
                for y in ch0..ch1 {
                    let row = &src[(y * iw + cw0) as usize..(y * iw + cw1) as usize];
                    sum += row.iter().sum::<f32>();
                }
                let div = match divisor_override {
                    Some(d) => d as f32,
                    None if p.count_include_pad => pool_size as f32,
                    None => ((ch1 - ch0) * (cw1 - cw0)) as f32,
                };
                out[o] = sum / div;
            }
        }
    }
}

/// Adaptive average pooling (PyTorch `adaptive_avg_pool2d`): output cell `i` averages input
/// rows `floor(i·in/out) .. ceil((i+1)·in/out)` (same for columns). Preconditions
/// (asserted): `out_h, out_w >= 1`, `input` is N×C×in_h×in_w, `out` is N×C×out_h×out_w.
#[allow(clippy::too_many_arguments)]
pub fn adaptive_avg_pool2d(
    batch: usize,
    channels: usize,
    in_h: usize,
    in_w: usize,
    out_h: usize,
    out_w: usize,
    input: &[f32],
    out: &mut [f32],
) {
    assert!(
        out_h > 0 && out_w > 0,
        "adaptive_avg_pool2d: output size must be positive"
    );
    let planes = batch * channels;
    assert_eq!(
        input.len(),
        planes * in_h * in_w,
        "adaptive_avg_pool2d: input length"
    );
    assert_eq!(
        out.len(),
        planes * out_h * out_w,
        "adaptive_avg_pool2d: output length"
    );
    let start = |i: usize, inp: usize, o: usize| (i * inp) / o;
    let end = |i: usize, inp: usize, o: usize| ((i + 1) * inp).div_ceil(o);
    for pl in 0..planes {
        let src = &input[pl * in_h * in_w..(pl + 1) * in_h * in_w];
        for oy in 0..out_h {
            let (h0, h1) = (start(oy, in_h, out_h), end(oy, in_h, out_h));
            for ox in 0..out_w {
                let (w0, w1) = (start(ox, in_w, out_w), end(ox, in_w, out_w));
                let mut sum = 0f32;
                for y in h0..h1 {
                    sum += src[y * in_w + w0..y * in_w + w1].iter().sum::<f32>();
                }
                let cnt = ((h1 - h0) * (w1 - w0)) as f32;
                out[pl * out_h * out_w + oy * out_w + ox] = sum / cnt;
            }
        }
    }
}

#[cfg(test)]
mod tests;
