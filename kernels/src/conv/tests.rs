//! Convolution of every kernel table against a naive f64 direct convolution.

use super::*;
use crate::arch::available;
use proptest::prelude::*;

fn naive(p: &Conv2dParams, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
    let (oh, ow) = (p.out_h(), p.out_w());
    let cin_g = p.in_channels / p.groups;
    let cout_g = p.out_channels / p.groups;
    let mut out = vec![0f64; p.batch * p.out_channels * oh * ow];
    for b in 0..p.batch {
        for oc in 0..p.out_channels {
            let g = oc / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = bias.map_or(0.0, |bv| bv[oc] as f64);
                    for ci in 0..cin_g {
                        let c = g * cin_g + ci;
                        for ky in 0..p.kernel_h {
                            for kx in 0..p.kernel_w {
                                let iy = (oy * p.stride.0 + ky * p.dilation.0) as isize
                                    - p.padding.0 as isize;
                                let ix = (ox * p.stride.1 + kx * p.dilation.1) as isize
                                    - p.padding.1 as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy as usize >= p.in_h
                                    || ix as usize >= p.in_w
                                {
                                    continue;
                                }
                                let xv = x[((b * p.in_channels + c) * p.in_h + iy as usize)
                                    * p.in_w
                                    + ix as usize];
                                let wv = w[((oc * cin_g + ci) * p.kernel_h + ky) * p.kernel_w + kx];
                                s += xv as f64 * wv as f64;
                            }
                        }
                    }
                    out[((b * p.out_channels + oc) * oh + oy) * ow + ox] = s;
                }
            }
        }
    }
    out
}

fn vals(len: usize, salt: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (((i * 37 + salt * 11) % 23) as f32 - 11.0) / 11.0)
        .collect()
}

fn params() -> impl Strategy<Value = Conv2dParams> {
    (
        (1usize..3, 1usize..4, 1usize..4, 0usize..3),
        (1usize..10, 1usize..10, 1usize..4, 1usize..4),
        (
            (1usize..3, 1usize..3),
            (0usize..3, 0usize..3),
            (1usize..3, 1usize..3),
        ),
    )
        .prop_map(
            |((batch, cg, og, gsel), (ih, iw, kh, kw), (stride, padding, dilation))| {
                // gsel: 0 → groups 1, 1 → 2 groups, 2 → depthwise (cin_g = 1).
                let (groups, cin_g) = match gsel {
                    0 => (1, cg),
                    1 => (2, cg),
                    _ => (cg + 1, 1),
                };
                Conv2dParams {
                    batch,
                    in_channels: groups * cin_g,
                    in_h: ih,
                    in_w: iw,
                    out_channels: groups * og,
                    kernel_h: kh,
                    kernel_w: kw,
                    stride,
                    padding,
                    dilation,
                    groups,
                }
            },
        )
}

fn check(p: &Conv2dParams, with_bias: bool, act: Activation) {
    let x = vals(p.batch * p.in_channels * p.in_h * p.in_w, 1);
    let w = vals(
        p.out_channels * p.in_channels / p.groups * p.kernel_h * p.kernel_w,
        2,
    );
    let b = vals(p.out_channels, 3);
    let bias = with_bias.then_some(&b[..]);
    let mut want = naive(p, &x, &w, bias);
    if act == Activation::Relu {
        want.iter_mut().for_each(|v| *v = v.max(0.0));
    }
    let kdim = p.in_channels / p.groups * p.kernel_h * p.kernel_w;
    for kern in available() {
        // Serial, with pre-packed weights, and split over 3 threads: all bit-identical.
        let run = |threads: usize, packed: bool| -> Vec<f32> {
            crate::parallel::with_threads(threads, || {
                let mut out = vec![f32::NAN; want.len()];
                match packed
                    .then(|| PackedConvWeight::pack_with(kern, p, &w))
                    .flatten()
                {
                    Some(pw) => conv2d_packed_with(kern, p, &x, &pw, bias, act, &mut out),
                    None => conv2d_with(kern, p, &x, &w, bias, act, &mut out),
                }
                out
            })
        };
        let out = run(1, false);
        for (i, (&g, &wv)) in out.iter().zip(&want).enumerate() {
            assert!(
                (g as f64 - wv).abs() <= 1e-5 + 2e-7 * kdim as f64,
                "{} {p:?} [{i}]: {g} vs {wv}",
                kern.name
            );
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (threads, packed) in [(1, true), (3, false), (3, true)] {
            assert!(
                bits(&run(threads, packed)) == bits(&out),
                "{} {p:?}: {threads} threads, packed {packed} differs from serial",
                kern.name
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn conv2d_matches_naive(p in params(), with_bias: bool, relu: bool) {
        prop_assume!(p.validate().is_ok());
        check(&p, with_bias, if relu { Activation::Relu } else { Activation::None });
    }
}

#[test]
fn pointwise_and_large_im2col() {
    let base = Conv2dParams {
        batch: 2,
        in_channels: 24,
        in_h: 9,
        in_w: 7,
        out_channels: 20,
        kernel_h: 1,
        kernel_w: 1,
        stride: (1, 1),
        padding: (0, 0),
        dilation: (1, 1),
        groups: 1,
    };
    check(&base, true, Activation::Relu);
    let k3 = Conv2dParams {
        kernel_h: 3,
        kernel_w: 3,
        padding: (1, 1),
        in_channels: 32,
        ..base.clone()
    };
    check(&k3, true, Activation::None);
    // Output rows of >= 16 pixels take the contiguous im2col fast path (stride_w 1).
    let wide = Conv2dParams {
        in_channels: 3,
        in_h: 9, // 9 × 37 = 333 output pixels: two im2col blocks of 256
        in_w: 37,
        kernel_h: 3,
        kernel_w: 3,
        padding: (1, 2),
        dilation: (1, 2),
        ..base.clone()
    };
    check(&wide, true, Activation::None);
    check(
        &Conv2dParams {
            stride: (2, 1),
            kernel_w: 5,
            ..wide.clone()
        },
        false,
        Activation::None,
    );
    check(
        &Conv2dParams {
            stride: (1, 2),
            ..wide
        },
        false,
        Activation::None,
    );
    // Depthwise with stride_w 1 and wide rows: the SIMD interior path (3x3, 5x5 dilated).
    let dw1 = Conv2dParams {
        in_channels: 4,
        out_channels: 8,
        groups: 4,
        in_h: 6,
        in_w: 41,
        kernel_h: 3,
        kernel_w: 3,
        padding: (1, 1),
        ..base.clone()
    };
    check(&dw1, true, Activation::Relu);
    check(
        &Conv2dParams {
            kernel_h: 5,
            kernel_w: 5,
            padding: (2, 4),
            dilation: (1, 2),
            stride: (2, 1),
            ..dw1.clone()
        },
        false,
        Activation::None,
    );
    check(
        &Conv2dParams {
            kernel_w: 1,
            padding: (0, 0),
            ..dw1
        },
        false,
        Activation::None,
    );
    let dw = Conv2dParams {
        groups: 24,
        out_channels: 48,
        kernel_h: 3,
        kernel_w: 3,
        stride: (2, 2),
        padding: (1, 1),
        ..base
    };
    check(&dw, true, Activation::Relu);
}

#[test]
fn validate_rejects_bad_params() {
    let ok = Conv2dParams {
        batch: 1,
        in_channels: 4,
        in_h: 5,
        in_w: 5,
        out_channels: 6,
        kernel_h: 3,
        kernel_w: 3,
        stride: (1, 1),
        padding: (0, 0),
        dilation: (1, 1),
        groups: 2,
    };
    assert!(ok.validate().is_ok());
    assert_eq!((ok.out_h(), ok.out_w()), (3, 3));
    assert!(Conv2dParams {
        groups: 3,
        ..ok.clone()
    }
    .validate()
    .is_err());
    assert!(Conv2dParams {
        groups: 0,
        ..ok.clone()
    }
    .validate()
    .is_err());
    assert!(Conv2dParams {
        stride: (0, 1),
        ..ok.clone()
    }
    .validate()
    .is_err());
    assert!(Conv2dParams {
        kernel_w: 0,
        ..ok.clone()
    }
    .validate()
    .is_err());
    assert!(Conv2dParams {
        kernel_h: 6,
        ..ok.clone()
    }
    .validate()
    .is_err());
    assert!(Conv2dParams {
        dilation: (3, 1),
        ..ok.clone()
    }
    .validate()
    .is_err());
    assert!(Conv2dParams {
        batch: usize::MAX,
        ..ok
    }
    .validate()
    .is_err());
}

fn grouped() -> Conv2dParams {
    Conv2dParams {
        batch: 1,
        in_channels: 4,
        in_h: 5,
        in_w: 5,
        out_channels: 6,
        kernel_h: 3,
        kernel_w: 3,
        stride: (1, 1),
        padding: (0, 0),
        dilation: (1, 1),
        groups: 2,
    }
}

#[test]
fn packed_weights_skip_depthwise() {
    let p = grouped();
    let w = vals(6 * 2 * 9, 1);
    let pw = PackedConvWeight::pack(&p, &w).expect("a grouped conv packs");
    assert!(pw.bytes() >= w.len() * 4);
    // Depthwise convolutions are direct: nothing to pack.
    let dw = Conv2dParams {
        in_channels: 6,
        groups: 6,
        ..p.clone()
    };
    assert!(PackedConvWeight::pack(&dw, &vals(6 * 9, 1)).is_none());
}

#[test]
#[should_panic(expected = "conv2d_packed: weights packed for")]
fn packed_weights_reject_other_shapes() {
    let p = grouped();
    let pw = PackedConvWeight::pack(&p, &vals(6 * 2 * 9, 1)).expect("a grouped conv packs");
    let other = Conv2dParams {
        out_channels: 4,
        ..p
    };
    let mut out = vec![0f32; 4 * 9];
    conv2d_packed(
        &other,
        &vals(4 * 25, 2),
        &pw,
        None,
        Activation::None,
        &mut out,
    );
}
