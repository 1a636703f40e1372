//! Pooling against naive references and PyTorch's documented output-size rules.

use super::*;
use proptest::prelude::*;

fn params() -> impl Strategy<Value = Pool2dParams> {
    (
        (1usize..3, 1usize..3, 1usize..10, 1usize..10),
        (
            (1usize..4, 1usize..4),
            (1usize..4, 1usize..4),
            (0usize..2, 0usize..2),
            (1usize..3, 1usize..3),
        ),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (batch, channels, in_h, in_w),
                (kernel, stride, padding, dilation),
                (ceil_mode, count_include_pad),
            )| {
                Pool2dParams {
                    batch,
                    channels,
                    in_h,
                    in_w,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    ceil_mode,
                    count_include_pad,
                }
            },
        )
}

fn vals(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 29 % 17) as f32 - 8.0) * 0.5)
        .collect()
}

/// Output positions of window `o` along one axis (possibly outside the input).
fn window(o: usize, stride: usize, pad: usize, k: usize, dil: usize) -> Vec<isize> {
    (0..k)
        .map(|t| (o * stride + t * dil) as isize - pad as isize)
        .collect()
}

proptest! {
    #[test]
    fn max_pool_matches_naive(p in params()) {
        prop_assume!(p.validate().is_ok());
        let x = vals(p.batch * p.channels * p.in_h * p.in_w);
        let (oh, ow) = (p.out_h(), p.out_w());
        let mut out = vec![0f32; p.batch * p.channels * oh * ow];
        let mut idx = vec![0i64; out.len()];
        max_pool2d(&p, &x, &mut out, Some(&mut idx));
        // The row-range path (no indices) must agree exactly.
        let mut out2 = vec![0f32; out.len()];
        max_pool2d(&p, &x, &mut out2, None);
        prop_assert_eq!(&out, &out2);
        for pl in 0..p.batch * p.channels {
            let plane = &x[pl * p.in_h * p.in_w..][..p.in_h * p.in_w];
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best = f32::NEG_INFINITY;
                    for y in window(oy, p.stride.0, p.padding.0, p.kernel.0, p.dilation.0) {
                        for xx in window(ox, p.stride.1, p.padding.1, p.kernel.1, p.dilation.1) {
                            if y >= 0 && xx >= 0 && (y as usize) < p.in_h && (xx as usize) < p.in_w {
                                best = best.max(plane[y as usize * p.in_w + xx as usize]);
                            }
                        }
                    }
                    let o = pl * oh * ow + oy * ow + ox;
                    prop_assert_eq!(out[o], best);
                    // A window with no input position (possible with dilation) yields -inf
                    // and, as in PyTorch, an index that points outside the plane.
                    if best != f32::NEG_INFINITY {
                        prop_assert_eq!(plane[idx[o] as usize], best);
                    }
                }
            }
        }
    }

    #[test]
    fn avg_pool_matches_naive(p in params(), div in prop::option::of(1usize..5)) {
        let p = Pool2dParams { dilation: (1, 1), ..p };
        prop_assume!(p.validate().is_ok());
        let x = vals(p.batch * p.channels * p.in_h * p.in_w);
        let (oh, ow) = (p.out_h(), p.out_w());
        let mut out = vec![0f32; p.batch * p.channels * oh * ow];
        avg_pool2d(&p, &x, &mut out, div);
        for pl in 0..p.batch * p.channels {
            let plane = &x[pl * p.in_h * p.in_w..][..p.in_h * p.in_w];
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut sum, mut inside, mut padded) = (0f64, 0usize, 0usize);
                    for y in window(oy, p.stride.0, p.padding.0, p.kernel.0, 1) {
                        for xx in window(ox, p.stride.1, p.padding.1, p.kernel.1, 1) {
                            // Positions in the padded input count for count_include_pad.
                            let in_padded = y < (p.in_h + p.padding.0) as isize && xx < (p.in_w + p.padding.1) as isize;
                            if y >= 0 && xx >= 0 && (y as usize) < p.in_h && (xx as usize) < p.in_w {
                                sum += plane[y as usize * p.in_w + xx as usize] as f64;
                                inside += 1;
                            }
                            if in_padded {
                                padded += 1;
                            }
                        }
                    }
                    let d = div.unwrap_or(if p.count_include_pad { padded } else { inside });
                    let want = if inside == 0 { 0.0 } else { sum / d as f64 };
                    let o = pl * oh * ow + oy * ow + ox;
                    prop_assert!((out[o] as f64 - want).abs() < 1e-5, "{:?} {} vs {}", p, out[o], want);
                }
            }
        }
    }

    #[test]
    fn adaptive_avg_matches_naive(ih in 1usize..12, iw in 1usize..12, oh in 1usize..7, ow in 1usize..7) {
        let x = vals(2 * ih * iw);
        let mut out = vec![0f32; 2 * oh * ow];
        adaptive_avg_pool2d(1, 2, ih, iw, oh, ow, &x, &mut out);
        for c in 0..2 {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (h0, h1) = ((oy as f64 * ih as f64 / oh as f64).floor() as usize, ((oy + 1) as f64 * ih as f64 / oh as f64).ceil() as usize);
                    let (w0, w1) = ((ox as f64 * iw as f64 / ow as f64).floor() as usize, ((ox + 1) as f64 * iw as f64 / ow as f64).ceil() as usize);
                    let mut s = 0f64;
                    for y in h0..h1 { for xx in w0..w1 { s += x[c * ih * iw + y * iw + xx] as f64; } }
                    let want = s / ((h1 - h0) * (w1 - w0)) as f64;
                    prop_assert!((out[c * oh * ow + oy * ow + ox] as f64 - want).abs() < 1e-5);
                }
            }
        }
    }
}

#[test]
fn max_pool_nan_wins_on_both_paths() {
    let p = Pool2dParams {
        kernel: (1, 3),
        stride: (1, 1),
        padding: (0, 1),
        ..p1(4, 3, 1, 1, false)
    };
    let x = [1.0, f32::NAN, 3.0, 2.0];
    let mut a = [0f32; 4];
    let mut b = [0f32; 4];
    let mut idx = [0i64; 4];
    max_pool2d(&p, &x, &mut a, Some(&mut idx));
    max_pool2d(&p, &x, &mut b, None);
    for o in [a, b] {
        assert!(o[0].is_nan() && o[1].is_nan() && o[2].is_nan());
        assert_eq!(o[3], 3.0);
    }
    assert_eq!(idx, [1, 1, 1, 2]);
}

/// The column-phase path (stride 2 and 3, odd and even widths, ceil mode): NaN still wins
/// and both paths agree with the per-window loop, on rows wide enough for the SIMD body.
#[test]
fn max_pool_strided_phases_match_and_keep_nan() {
    for (sw, iw, ceil_mode) in [(2, 37, true), (2, 38, false), (3, 41, true), (2, 111, true)] {
        let p = Pool2dParams {
            batch: 2,
            channels: 3,
            in_h: 5,
            in_w: iw,
            kernel: (3, 3),
            stride: (2, sw),
            padding: (1, 1),
            dilation: (1, 1),
            ceil_mode,
            count_include_pad: false,
        };
        let mut x = vals(2 * 3 * 5 * iw);
        x[7] = f32::NAN;
        x[5 * iw + 2 * iw + iw - 1] = f32::NAN;
        let (oh, ow) = (p.out_h(), p.out_w());
        let mut a = vec![0f32; 2 * 3 * oh * ow];
        let mut b = a.clone();
        let mut idx = vec![0i64; a.len()];
        max_pool2d(&p, &x, &mut a, Some(&mut idx));
        max_pool2d(&p, &x, &mut b, None);
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "stride {sw}, width {iw}"
        );
        assert!(
            b.iter().filter(|v| v.is_nan()).count() >= 2,
            "stride {sw}, width {iw}"
        );
    }
}

fn p1(in_len: usize, k: usize, s: usize, pad: usize, ceil_mode: bool) -> Pool2dParams {
    Pool2dParams {
        batch: 1,
        channels: 1,
        in_h: 1,
        in_w: in_len,
        kernel: (1, k),
        stride: (1, s),
        padding: (0, pad),
        dilation: (1, 1),
        ceil_mode,
        count_include_pad: true,
    }
}

/// Output sizes worked out by hand from PyTorch's `pooling_output_shape`.
#[test]
fn output_sizes_follow_pytorch() {
    assert_eq!(p1(5, 2, 2, 0, false).out_w(), 2);
    assert_eq!(p1(5, 2, 2, 0, true).out_w(), 3);
    // ceil_mode rule: the last window would start in the right padding, so it is dropped:
    // (6 + 2 - 3 + 1) / 2 + 1 = 4, and (4 - 1) * 2 = 6 < 6 + 1 keeps 4.
    assert_eq!(p1(6, 3, 2, 1, true).out_w(), 4);
    // (4 + 2 - 2 + 2) / 3 + 1 = 3, (3 - 1) * 3 = 6 >= 4 + 1 → 2.
    assert_eq!(p1(4, 2, 3, 1, true).out_w(), 2);
    assert!(p1(4, 2, 2, 2, false).validate().is_err()); // padding > kernel / 2
    assert!(p1(1, 3, 1, 0, false).validate().is_err()); // output < 1
}
