//! Parity driver for `kernels/parity/torch_parity.py`: reads one case per stdin line
//! (`op arg arg ...`), computes it with this crate on deterministic inputs
//! (`x[i] = sin(0.37 i + seed)`), prints the output values on one line.

use std::io::BufRead;
use wasm_torch_kernels::activation::{apply, Activation};
use wasm_torch_kernels::conv::{conv2d, Conv2dParams};
use wasm_torch_kernels::conv_transpose::{conv_transpose2d, ConvTranspose2dParams};
use wasm_torch_kernels::gemm::{sgemm, sgemm_packed, PackedB};
use wasm_torch_kernels::norm::{group_norm, layer_norm_rows};
use wasm_torch_kernels::pool::{adaptive_avg_pool2d, avg_pool2d, max_pool2d, Pool2dParams};
use wasm_torch_kernels::softmax::{log_softmax_rows, softmax_rows};

fn gen(n: usize, seed: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f64 * 0.37 + seed).sin() as f32)
        .collect()
}

fn act(name: &str, p: f32) -> Activation {
    match name {
        "none" => Activation::None,
        "relu" => Activation::Relu,
        "relu6" => Activation::Relu6,
        "leaky_relu" => Activation::LeakyRelu(p),
        "gelu" => Activation::Gelu,
        "gelu_tanh" => Activation::GeluTanh,
        "silu" => Activation::Silu,
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "hardswish" => Activation::HardSwish,
        "hardsigmoid" => Activation::HardSigmoid,
        "elu" => Activation::Elu(p),
        "softplus" => Activation::Softplus,
        "clamp" => Activation::Clamp(-p, p),
        _ => panic!("unknown activation {name}"),
    }
}

fn main() {
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let t: Vec<&str> = line.split_whitespace().collect();
        let u = |i: usize| t[i].parse::<usize>().unwrap();
        let out: Vec<f32> = match t[0] {
            "conv2d" => {
                let p = Conv2dParams {
                    batch: u(1),
                    in_channels: u(2),
                    in_h: u(3),
                    in_w: u(4),
                    out_channels: u(5),
                    kernel_h: u(6),
                    kernel_w: u(7),
                    stride: (u(8), u(9)),
                    padding: (u(10), u(11)),
                    dilation: (u(12), u(13)),
                    groups: u(14),
                };
                let x = gen(p.batch * p.in_channels * p.in_h * p.in_w, 0.0);
                let w = gen(
                    p.out_channels * p.in_channels / p.groups * p.kernel_h * p.kernel_w,
                    1.0,
                );
                let b = gen(p.out_channels, 2.0);
                let mut o = vec![0f32; p.batch * p.out_channels * p.out_h() * p.out_w()];
                conv2d(&p, &x, &w, Some(&b), act(t[15], 0.0), &mut o);
                o
            }
            "conv_transpose2d" => {
                let p = ConvTranspose2dParams {
                    batch: u(1),
                    in_channels: u(2),
                    in_h: u(3),
                    in_w: u(4),
                    out_channels: u(5),
                    kernel_h: u(6),
                    kernel_w: u(7),
                    stride: (u(8), u(9)),
                    padding: (u(10), u(11)),
                    output_padding: (u(12), u(13)),
                    dilation: (u(14), u(15)),
                    groups: u(16),
                };
                let x = gen(p.batch * p.in_channels * p.in_h * p.in_w, 0.0);
                let w = gen(
                    p.in_channels * p.out_channels / p.groups * p.kernel_h * p.kernel_w,
                    1.0,
                );
                let b = gen(p.out_channels, 2.0);
                let mut o = vec![0f32; p.batch * p.out_channels * p.out_h() * p.out_w()];
                conv_transpose2d(&p, &x, &w, Some(&b), Activation::None, &mut o);
                o
            }
            "max_pool2d" | "avg_pool2d" => {
                let p = Pool2dParams {
                    batch: u(1),
                    channels: u(2),
                    in_h: u(3),
                    in_w: u(4),
                    kernel: (u(5), u(6)),
                    stride: (u(7), u(8)),
                    padding: (u(9), u(10)),
                    dilation: (u(11), u(12)),
                    ceil_mode: u(13) == 1,
                    count_include_pad: u(14) == 1,
                };
                let x = gen(p.batch * p.channels * p.in_h * p.in_w, 0.0);
                let mut o = vec![0f32; p.batch * p.channels * p.out_h() * p.out_w()];
                if t[0] == "max_pool2d" {
                    let mut idx = vec![0i64; o.len()];
                    max_pool2d(&p, &x, &mut o, Some(&mut idx));
                    o.extend(idx.iter().map(|&i| i as f32));
                } else {
                    let d = u(15);
                    avg_pool2d(&p, &x, &mut o, (d > 0).then_some(d));
                }
                o
            }
            "adaptive_avg_pool2d" => {
                let (n, c, ih, iw, oh, ow) = (u(1), u(2), u(3), u(4), u(5), u(6));
                let x = gen(n * c * ih * iw, 0.0);
                let mut o = vec![0f32; n * c * oh * ow];
                adaptive_avg_pool2d(n, c, ih, iw, oh, ow, &x, &mut o);
                o
            }
            "act" => {
                let mut x: Vec<f32> = (0..=400).map(|i| -20.0 + i as f32 * 0.1).collect();
                apply(act(t[1], t[2].parse().unwrap()), &mut x);
                x
            }
            "softmax" | "log_softmax" => {
                let (rows, len) = (u(1), u(2));
                let mut x: Vec<f32> = gen(rows * len, 0.0).iter().map(|v| v * 10.0).collect();
                if t[0] == "softmax" {
                    softmax_rows(&mut x, len)
                } else {
                    log_softmax_rows(&mut x, len)
                }
                x
            }
            "layer_norm" => {
                let (rows, len) = (u(1), u(2));
                let x = gen(rows * len, 0.0);
                let (g, b) = (gen(len, 1.0), gen(len, 2.0));
                let mut o = vec![0f32; x.len()];
                layer_norm_rows(&x, len, Some(&g), Some(&b), 1e-5, &mut o);
                o
            }
            "group_norm" => {
                let (n, c, s, groups) = (u(1), u(2), u(3), u(4));
                let x = gen(n * c * s, 0.0);
                let (g, b) = (gen(c, 1.0), gen(c, 2.0));
                let mut o = vec![0f32; x.len()];
                group_norm(&x, n, c, s, groups, Some(&g), Some(&b), 1e-5, &mut o);
                o
            }
            "linear" => {
                // out = act(x · wᵀ + b), w stored out_features × in_features (nn.Linear).
                let (m, k, n) = (u(1), u(2), u(3));
                let x = gen(m * k, 0.0);
                let w = gen(n * k, 1.0);
                let b = gen(n, 2.0);
                let pb = PackedB::pack(k, n, &w, k, true);
                let mut o = vec![0f32; m * n];
                sgemm_packed(m, &x, k, &pb, Some(&b), act(t[4], 0.0), &mut o, n);
                let mut o2 = vec![0f32; m * n];
                sgemm(m, n, k, &x, k, false, &w, k, true, &mut o2, n, false);
                o.extend(o2);
                o
            }
            op => panic!("unknown op {op}"),
        };
        let s: Vec<String> = out.iter().map(|v| format!("{v:e}")).collect();
        println!("{}", s.join(" "));
    }
}
