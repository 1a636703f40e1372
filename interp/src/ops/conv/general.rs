//! The convolutions the im2col path in `forward` does not cover: transposed convolution
//! (`ConvTranspose1d/2d/3d`; 1-d and 2-d on the kernels' GEMM + col2im path, 3-d by direct
//! loops) and 3-d forward convolution (`Conv3d`, direct loops). Every size is checked here, so
//! the kernel's preconditions hold and hostile arguments give errors.

use wasm_torch_kernels::activation::Activation;
use wasm_torch_kernels::conv_transpose::{conv_transpose2d, ConvTranspose2dParams};

use crate::error::{Error, Result};
use crate::ops::float_out;
use crate::ops::{iarg, opt, pair, targ, to_usize};
use crate::storage::try_alloc;
use crate::tensor::{checked_numel, Tensor};
use crate::value::Value;

/// Where a schema keeps its hyper-parameters (argument positions).
pub(crate) struct Layout {
    /// `stride` position.
    pub stride: usize,
    /// `padding` position.
    pub padding: usize,
    /// `dilation` position.
    pub dilation: usize,
    /// `output_padding` position (transposed schemas only).
    pub output_padding: Option<usize>,
    /// `groups` position.
    pub groups: usize,
}

/// A convolution's geometry, left-padded to three spatial dims with size-1 dims.
struct Geometry {
    transposed: bool,
    spatial: usize,
    batched: bool,
    n: usize,
    c: usize,
    o: usize,
    groups: usize,
    ins: [usize; 3],
    ks: [usize; 3],
    outs: [usize; 3],
    stride: [usize; 3],
    pad: [usize; 3],
    dil: [usize; 3],
    out_pad: [usize; 3],
}

fn three(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

/// Forward output length `(in + 2p − d(k − 1) − 1)/s + 1`, `None` when not positive.
fn forward_len(i: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let span = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
    let padded = i.checked_add(p.checked_mul(2)?)?;
    Some(padded.checked_sub(span)? / s + 1)
}

/// Transposed output length `(in − 1)s − 2p + d(k − 1) + op + 1`, `None` when not positive.
fn transposed_len(i: usize, k: usize, s: usize, p: usize, d: usize, op: usize) -> Option<usize> {
    let full = i
        .checked_sub(1)?
        .checked_mul(s)?
        .checked_add(d.checked_mul(k.checked_sub(1)?)?)?
        .checked_add(op)?
        .checked_add(1)?;
    full.checked_sub(p.checked_mul(2)?).filter(|&v| v > 0)
}

fn geometry(
    x: &Tensor,
    w: &Tensor,
    args: &[Value],
    l: &Layout,
    transposed: bool,
) -> Result<Geometry> {
    let spatial = w
        .ndim()
        .checked_sub(2)
        .filter(|s| (1..=3).contains(s))
        .ok_or_else(|| {
            Error::runtime(format!(
                "convolution weight {:?}: 1-3 spatial dims",
                w.shape()
            ))
        })?;
    let batched = x.ndim() == spatial + 2;
    if !batched && x.ndim() != spatial + 1 {
        return Err(Error::runtime(format!(
            "convolution input {:?} for weight {:?}",
            x.shape(),
            w.shape()
        )));
    }
    let xs: Vec<usize> = if batched {
        x.shape().to_vec()
    } else {
        [&[1], x.shape()].concat()
    };
    let (n, c) = (xs[0], xs[1]);
    let groups = to_usize(iarg(args, l.groups)?, "groups")?;
    let stride = pair(args, l.stride, spatial, 1)?;
    let dilation = pair(args, l.dilation, spatial, 1)?;
    let ks = &w.shape()[2..];
    let padding = match opt(args, l.padding) {
        Value::Str(s) if s == "valid" && !transposed => vec![0; spatial],
        Value::Str(s) if s == "same" && !transposed => {
            let mut p = Vec::new();
            for (i, k) in ks.iter().enumerate() {
                let total = dilation[i].checked_mul(k.saturating_sub(1)).unwrap_or(1);
                if total % 2 != 0 || stride[i] != 1 {
                    return Err(Error::runtime(
                        "padding='same' with asymmetric padding is not supported",
                    ));
                }
                p.push(total / 2);
            }
            p
        }
        _ => pair(args, l.padding, spatial, 0)?,
    };
    let out_pad = match l.output_padding {
        Some(i) => pair(args, i, spatial, 0)?,
        None => vec![0; spatial],
    };
    if groups == 0 || stride.contains(&0) || dilation.contains(&0) || ks.contains(&0) {
        return Err(Error::runtime(
            "convolution: groups, stride, dilation and kernel size must be positive",
        ));
    }
    let o = if transposed {
        if c != w.shape()[0] || c % groups != 0 {
            return Err(Error::runtime(format!(
                "transposed convolution: input has {c} channels, weight {:?} with groups={groups}",
                w.shape()
            )));
        }
        w.shape()[1]
            .checked_mul(groups)
            .ok_or_else(|| Error::runtime("convolution: too many channels"))?
    } else {
        let o = w.shape()[0];
        if w.shape()[1].checked_mul(groups) != Some(c) || o % groups != 0 {
            return Err(Error::runtime(format!(
                "convolution: input has {c} channels, weight {:?} with groups={groups}",
                w.shape()
            )));
        }
        o
    };
    let mut outs = Vec::with_capacity(spatial);
    for i in 0..spatial {
        let inp = xs[2 + i];
        let len = if transposed {
            if out_pad[i] >= stride[i] && out_pad[i] >= dilation[i] {
                return Err(Error::runtime(
                    "transposed convolution: output padding must be smaller than either stride or dilation",
                ));
            }
            transposed_len(inp, ks[i], stride[i], padding[i], dilation[i], out_pad[i])
        } else {
            forward_len(inp, ks[i], stride[i], padding[i], dilation[i])
        };
        outs.push(len.filter(|_| inp > 0).ok_or_else(|| {
            Error::runtime(format!(
                "convolution: input {:?} and weight {:?} give an empty output",
                x.shape(),
                w.shape()
            ))
        })?);
    }
    Ok(Geometry {
        transposed,
        spatial,
        batched,
        n,
        c,
        o,
        groups,
        ins: three(&xs[2..], 1),
        ks: three(ks, 1),
        outs: three(&outs, 1),
        stride: three(&stride, 1),
        pad: three(&padding, 0),
        dil: three(&dilation, 1),
        out_pad: three(&out_pad, 0),
    })
}

impl Geometry {
    fn out_shape(&self) -> Vec<usize> {
        let mut s = vec![self.n, self.o];
        s.extend_from_slice(&self.outs[3 - self.spatial..]);
        if !self.batched {
            s.remove(0);
        }
        s
    }
}

/// Convolution with any of 1-3 spatial dims, transposed or not, read with layout `l`.
/// Forward 1-d/2-d convolution is better served by `forward::conv` (im2col + packed GEMM).
pub(crate) fn conv_general(args: &[Value], l: &Layout, transposed: bool) -> Result<Tensor> {
    let x = targ(args, 0)?;
    let w = targ(args, 1)?;
    let g = geometry(x, w, args, l, transposed)?;
    let bias = match opt(args, 2).as_opt_tensor()? {
        Some(b) if b.numel() == g.o => Some(b.f32s()?.into_owned()),
        Some(b) => {
            return Err(Error::runtime(format!(
                "convolution bias {:?} for {} channels",
                b.shape(),
                g.o
            )))
        }
        None => None,
    };
    let shape = g.out_shape();
    let mut out = try_alloc::<f32>(checked_numel(&shape)?)?;
    let (xv, wv) = (x.f32s()?, w.f32s()?);
    if transposed && g.spatial <= 2 {
        let p = ConvTranspose2dParams {
            batch: g.n,
            in_channels: g.c,
            in_h: g.ins[1],
            in_w: g.ins[2],
            out_channels: g.o,
            kernel_h: g.ks[1],
            kernel_w: g.ks[2],
            stride: (g.stride[1], g.stride[2]),
            padding: (g.pad[1], g.pad[2]),
            output_padding: (g.out_pad[1], g.out_pad[2]),
            dilation: (g.dil[1], g.dil[2]),
            groups: g.groups,
        };
        p.validate().map_err(Error::runtime)?;
        conv_transpose2d(&p, &xv, &wv, bias.as_deref(), Activation::None, &mut out);
    } else {
        // The direct loops touch every (output, input-channel, tap) triple: refuse work the
        // tensors' sizes alone would not bound (a huge output of a tiny input).
        let taps =
            g.ks.iter()
                .try_fold(g.c / g.groups, |a, &k| a.checked_mul(k));
        if taps.and_then(|t| t.checked_mul(out.len())).is_none() {
            return Err(Error::runtime("convolution: too much work"));
        }
        if g.transposed {
            direct_transposed(&g, &xv, &wv, bias.as_deref(), &mut out);
        } else {
            direct_forward(&g, &xv, &wv, bias.as_deref(), &mut out);
        }
    }
    Ok(Tensor::from_f32_as(float_out(x), shape, out))
}

/// Input coordinate `o·s + k·d − p` along one dim, `None` outside `0..len`.
fn tap(o: usize, s: usize, k: usize, d: usize, p: usize, len: usize) -> Option<usize> {
    (o * s + k * d).checked_sub(p).filter(|&i| i < len)
}

/// Plain 3-d convolution: each output is its bias plus the dot product of its window.
fn direct_forward(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let (cpg, opg) = (g.c / g.groups, g.o / g.groups);
    let [id, ih, iw] = g.ins;
    let [kd, kh, kw] = g.ks;
    let [od, oh, ow] = g.outs;
    let mut at = 0;
    for b in 0..g.n {
        for o in 0..g.o {
            let grp = o / opg;
            for z in 0..od {
                for y in 0..oh {
                    for xo in 0..ow {
                        let mut acc = bias.map_or(0.0, |bv| bv[o] as f64);
                        for ci in 0..cpg {
                            let xc = &x[(b * g.c + grp * cpg + ci) * id * ih * iw..];
                            let wc = &w[(o * cpg + ci) * kd * kh * kw..];
                            for a in 0..kd {
                                let Some(zi) = tap(z, g.stride[0], a, g.dil[0], g.pad[0], id)
                                else {
                                    continue;
                                };
                                for bb in 0..kh {
                                    let Some(yi) = tap(y, g.stride[1], bb, g.dil[1], g.pad[1], ih)
                                    else {
                                        continue;
                                    };
                                    for cc in 0..kw {
                                        let Some(xi) =
                                            tap(xo, g.stride[2], cc, g.dil[2], g.pad[2], iw)
                                        else {
                                            continue;
                                        };
                                        acc += xc[(zi * ih + yi) * iw + xi] as f64
                                            * wc[(a * kh + bb) * kw + cc] as f64;
                                    }
                                }
                            }
                        }
                        out[at] = acc as f32;
                        at += 1;
                    }
                }
            }
        }
    }
}

/// Transposed 3-d convolution: every input value scatters `value × kernel` into the output
/// window it came from (the adjoint of `direct_forward`).
fn direct_transposed(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let (cpg, opg) = (g.c / g.groups, g.o / g.groups);
    let [id, ih, iw] = g.ins;
    let [kd, kh, kw] = g.ks;
    let [od, oh, ow] = g.outs;
    let plane = od * oh * ow;
    for b in 0..g.n {
        for o in 0..g.o {
            out[(b * g.o + o) * plane..][..plane].fill(bias.map_or(0.0, |bv| bv[o]));
        }
        for c in 0..g.c {
            let grp = c / cpg;
            for z in 0..id {
                for y in 0..ih {
                    for xi in 0..iw {
                        let v = x[(((b * g.c + c) * id + z) * ih + y) * iw + xi];
                        for oc in 0..opg {
                            let o = grp * opg + oc;
                            let dst = &mut out[(b * g.o + o) * plane..][..plane];
                            let wc = &w[(c * opg + oc) * kd * kh * kw..];
                            for a in 0..kd {
                                let Some(zo) = tap(z, g.stride[0], a, g.dil[0], g.pad[0], od)
                                else {
                                    continue;
                                };
                                for bb in 0..kh {
                                    let Some(yo) = tap(y, g.stride[1], bb, g.dil[1], g.pad[1], oh)
                                    else {
                                        continue;
                                    };
                                    for cc in 0..kw {
                                        let Some(xo) =
                                            tap(xi, g.stride[2], cc, g.dil[2], g.pad[2], ow)
                                        else {
                                            continue;
                                        };
                                        dst[(zo * oh + yo) * ow + xo] +=
                                            v * wc[(a * kh + bb) * kw + cc];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_util::{call, il};

    /// A 3-d forward convolution with 1×1×1 spatial extent equals the channel mix, and
    /// its transposed counterpart with a 1-tap kernel and stride 2 spreads values apart.
    #[test]
    fn conv3d_and_transposed_by_hand() {
        let x = Tensor::from_f32(vec![1, 2, 1, 1, 2], vec![1., 2., 3., 4.]);
        let w = Tensor::from_f32(vec![1, 2, 1, 1, 1], vec![10., 100.]);
        let r = call(
            "aten::conv3d.default",
            vec![
                x.clone().into(),
                w.into(),
                Value::None,
                il(&[1]),
                il(&[0]),
                il(&[1]),
                Value::Int(1),
            ],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 1, 1, 2]);
        assert_eq!(t.to_f32_vec(), vec![310., 420.]);
        let w = Tensor::from_f32(vec![2, 1, 1, 1, 1], vec![1., -1.]);
        let r = call(
            "aten::convolution.default",
            vec![
                x.into(),
                w.into(),
                Tensor::from_f32(vec![1], vec![0.5]).into(),
                il(&[1, 1, 2]),
                il(&[0, 0, 0]),
                il(&[1, 1, 1]),
                Value::Bool(true),
                il(&[0, 0, 0]),
                Value::Int(1),
            ],
        );
        let t = r[0].as_tensor().unwrap();
        assert_eq!(t.shape(), &[1, 1, 1, 1, 3]);
        assert_eq!(t.to_f32_vec(), vec![1. - 3. + 0.5, 0.5, 2. - 4. + 0.5]);
    }

    #[test]
    fn hostile_geometry_is_an_error() {
        let x = Tensor::from_f32(vec![1, 1, 1, 1, 1], vec![1.]);
        let w = Tensor::from_f32(vec![1, 1, 1, 1, 1], vec![1.]);
        for (stride, pad, dil, out_pad) in [
            (vec![1], vec![5], vec![1], vec![0]),
            (vec![0], vec![0], vec![1], vec![0]),
            (vec![2], vec![0], vec![1], vec![3]),
        ] {
            let f = crate::ops::registry::lookup("aten::convolution.default").unwrap();
            let args = vec![
                x.clone().into(),
                w.clone().into(),
                Value::None,
                il(&stride),
                il(&pad),
                il(&dil),
                Value::Bool(true),
                il(&out_pad),
                Value::Int(1),
            ];
            assert!(f(&mut crate::ops::OpCtx::default(), args).is_err());
        }
    }
}
