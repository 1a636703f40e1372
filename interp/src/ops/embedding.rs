//! Embeddings: `embedding` (a row gather), `_embedding_bag` (and
//! `_embedding_bag_forward_only`, which torch.export emits for `F.embedding_bag` outside
//! autograd) and `embedding_dense_backward`.
//!
//! `_embedding_bag` returns `(output, offset2bag, bag_size, max_indices)`. The three
//! auxiliary outputs follow PyTorch's CPU kernel, including its conventions: in `sum` mode
//! without `padding_idx` (the "fast path") `offset2bag` is empty and `bag_size` /
//! `max_indices` are zeros; in `mean`/`max` mode `max_indices` repeats `bag_size` unless the
//! mode is `max`, where it holds the arg-max row per bag and feature (0 for an empty bag).

use crate::error::{Error, Result};
use crate::ops::index::{advanced_offsets, gather_offsets, reject_negative};
use crate::ops::registry::OpList;
use crate::ops::OpCtx;
use crate::ops::{barg_or, iarg, one, opt, targ};
use crate::ops::{float_out, tensor_f64, usize_of, zeros_for};
use crate::storage::try_alloc;
use crate::tensor::Tensor;
use crate::value::Value;

/// embedding(weight, indices, padding_idx, scale_grad_by_freq, sparse)
fn embedding(args: &[Value]) -> Result<Vec<Value>> {
    let w = targ(args, 0)?;
    let ix = targ(args, 1)?;
    if w.ndim() != 2 {
        return Err(Error::runtime("embedding: weight must be 2-d"));
    }
    reject_negative("embedding", ix)?;
    if let Some(t) = crate::quant_weights::embedding(w, ix)? {
        return one(t);
    }
    let (offs, shape) = advanced_offsets(w, &[Some(ix.clone())])?;
    one(gather_offsets(w, &offs, shape)?)
}

/// An integer index tensor's values.
fn index_values(t: &Tensor, what: &str) -> Result<Vec<i64>> {
    if t.dtype().is_float() || t.dtype() == crate::tensor::DType::Bool {
        return Err(Error::runtime(format!(
            "{what} must be an integer tensor, got {}",
            t.dtype().name()
        )));
    }
    Ok(t.i64s()?.into_owned())
}

/// _embedding_bag(weight, indices, offsets, scale_grad_by_freq, mode, sparse,
/// per_sample_weights, include_last_offset, padding_idx)
fn embedding_bag(args: &[Value], forward_only: bool) -> Result<Vec<Value>> {
    let op = "_embedding_bag";
    let weight = targ(args, 0)?;
    let indices = targ(args, 1)?;
    let offsets = targ(args, 2)?;
    let mode = iarg(args, 4)?;
    let psw = opt(args, 6).as_opt_tensor()?;
    let include_last = barg_or(args, 7, false)?;
    let padding_idx = match opt(args, 8) {
        Value::None => -1,
        v => v.as_int()?,
    };
    if !(0..=2).contains(&mode) {
        return Err(Error::runtime(format!(
            "{op}: mode must be 0 (sum), 1 (mean) or 2 (max), got {mode}"
        )));
    }
    let &[rows, dim] = weight.shape() else {
        return Err(Error::runtime(format!(
            "{op}: weight must be 2-d, got {:?}",
            weight.shape()
        )));
    };
    if indices.ndim() != 1 || offsets.ndim() != 1 {
        return Err(Error::runtime(format!(
            "{op}: indices and offsets must be 1-d, got {:?} and {:?}",
            indices.shape(),
            offsets.shape()
        )));
    }
    let idx = index_values(indices, "indices")?;
    let offs = index_values(offsets, "offsets")?;
    let n = idx.len();
    if let Some(w) = psw {
        if mode != 0 {
            return Err(Error::runtime(format!(
                "{op}: per_sample_weights are only supported with mode='sum'"
            )));
        }
        if w.shape() != indices.shape() {
            return Err(Error::runtime(format!(
                "{op}: per_sample_weights {:?} must match indices {:?}",
                w.shape(),
                indices.shape()
            )));
        }
    }
    let padding_idx = if padding_idx < 0 {
        None
    } else {
        if padding_idx >= rows as i64 {
            return Err(Error::runtime(format!(
                "{op}: padding_idx {padding_idx} is outside the {rows} embeddings"
            )));
        }
        Some(padding_idx)
    };
    for (k, &i) in idx.iter().enumerate() {
        if i < 0 || i >= rows as i64 {
            return Err(Error::runtime(format!(
                "{op}: index {k} is {i}, outside [0, {rows})"
            )));
        }
    }
    if offs.first().is_some_and(|&o| o != 0) {
        return Err(Error::runtime(format!(
            "{op}: offsets[0] has to be 0, got {}",
            offs[0]
        )));
    }
    if offs.windows(2).any(|w| w[1] < w[0]) || offs.last().is_some_and(|&o| o > n as i64) {
        return Err(Error::runtime(format!(
            "{op}: offsets must be non-decreasing and at most the number of indices ({n})"
        )));
    }
    let bags = if include_last {
        offs.len().saturating_sub(1)
    } else {
        offs.len()
    };
    // bag b covers indices [offs[b], end(b)); the last bag runs to the end of `indices`
    // (with include_last_offset, to the last offset).
    let end = |b: usize| -> usize {
        if b + 1 < offs.len() {
            offs[b + 1] as usize
        } else {
            n
        }
    };
    let wv = weight.f64s()?;
    let pw = psw.map(|t| t.f64s()).transpose()?;
    let mut out = zeros_for(&[bags, dim])?;
    let mut bag_size = try_alloc::<i64>(bags)?;
    let mut max_idx = if mode == 2 {
        try_alloc::<i64>(bags.saturating_mul(dim))?
    } else {
        Vec::new()
    };
    // -1 marks indices in no bag (only possible with no offsets at all), as in PyTorch
    let mut offset2bag = try_alloc::<i64>(n)?;
    offset2bag.fill(-1);
    for b in 0..bags {
        let (s, e) = (offs[b] as usize, end(b));
        let o = &mut out[b * dim..(b + 1) * dim];
        let mut count = 0;
        for (k, &i) in idx.iter().enumerate().take(e).skip(s) {
            offset2bag[k] = b as i64;
            if Some(i) == padding_idx {
                continue;
            }
            let row = &wv[i as usize * dim..(i as usize + 1) * dim];
            match mode {
                2 => {
                    for (f, (acc, &v)) in o.iter_mut().zip(row).enumerate() {
                        if count == 0 || v > *acc {
                            *acc = v;
                            max_idx[b * dim + f] = i;
                        }
                    }
                }
                _ => {
                    let scale = pw.as_ref().map_or(1.0, |w| w[k]);
                    for (acc, &v) in o.iter_mut().zip(row) {
                        *acc += v * scale;
                    }
                }
            }
            count += 1;
        }
        if mode == 1 && count > 0 {
            o.iter_mut().for_each(|v| *v /= count as f64);
        }
        if mode != 0 {
            bag_size[b] = count as i64;
        }
    }
    // Indices past the last bag (include_last_offset with a short last offset) belong to it.
    if bags > 0 {
        for v in offset2bag.iter_mut().skip(end(bags - 1)) {
            *v = bags as i64 - 1;
        }
    }
    let fast_sum = mode == 0 && padding_idx.is_none();
    if fast_sum {
        offset2bag.clear();
    }
    // forward_only's sum mode sizes its zero outputs by the offsets, not the bags
    if forward_only && mode == 0 {
        bag_size = try_alloc::<i64>(offs.len())?;
    }
    let max_out = if mode == 2 {
        Tensor::from_i64(vec![bags, dim], max_idx)
    } else {
        Tensor::from_i64(vec![bag_size.len()], bag_size.clone())
    };
    Ok(vec![
        tensor_f64(float_out(weight), vec![bags, dim], out),
        Value::Tensor(Tensor::from_i64(vec![offset2bag.len()], offset2bag)),
        Value::Tensor(Tensor::from_i64(vec![bag_size.len()], bag_size)),
        Value::Tensor(max_out),
    ])
}

/// embedding_dense_backward(grad_output, indices, num_weights, padding_idx,
/// scale_grad_by_freq): sums the gradient rows of each index into a
/// `(num_weights, D)` weight gradient.
fn embedding_dense_backward(args: &[Value]) -> Result<Vec<Value>> {
    let op = "embedding_dense_backward";
    let g = targ(args, 0)?;
    let indices = targ(args, 1)?;
    let rows = usize_of(iarg(args, 2)?, "num_weights")?;
    let padding_idx = iarg(args, 3)?;
    let scale = barg_or(args, 4, false)?;
    let idx = index_values(indices, "indices")?;
    if g.ndim() != indices.ndim() + 1 || g.shape()[..indices.ndim()] != *indices.shape() {
        return Err(Error::runtime(format!(
            "{op}: grad_output {:?} must be indices {:?} plus an embedding dim",
            g.shape(),
            indices.shape()
        )));
    }
    let dim = g.shape()[g.ndim() - 1];
    let mut out = zeros_for(&[rows, dim])?;
    let mut counts = if scale {
        try_alloc::<i64>(rows)?
    } else {
        Vec::new()
    };
    for (k, &i) in idx.iter().enumerate() {
        if i < 0 || i >= rows as i64 {
            return Err(Error::runtime(format!(
                "{op}: index {k} is {i}, outside [0, {rows})"
            )));
        }
        if scale {
            counts[i as usize] += 1;
        }
    }
    let gv = g.f64s()?;
    for (k, &i) in idx.iter().enumerate() {
        if i == padding_idx {
            continue;
        }
        let f = if scale {
            1.0 / counts[i as usize] as f64
        } else {
            1.0
        };
        let dst = &mut out[i as usize * dim..(i as usize + 1) * dim];
        for (d, &v) in dst.iter_mut().zip(&gv[k * dim..(k + 1) * dim]) {
            *d += v * f;
        }
    }
    Ok(vec![tensor_f64(float_out(g), vec![rows, dim], out)])
}

/// Register the embedding-bag ops.
pub(crate) fn register(r: &mut OpList) {
    reg!(r,
        "aten::_embedding_bag.default" => |_: &mut OpCtx, a: Vec<Value>| embedding_bag(&a, false),
        "aten::_embedding_bag_forward_only.default" => |_: &mut OpCtx, a: Vec<Value>| embedding_bag(&a, true),
        "aten::embedding_dense_backward.default" => |_: &mut OpCtx, a: Vec<Value>| embedding_dense_backward(&a),
        "aten::embedding.default" => |_: &mut OpCtx, a: Vec<Value>| embedding(&a),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bag(mode: i64, padding_idx: i64) -> Vec<Vec<f64>> {
        let w = Tensor::from_f32(vec![4, 2], (0..8).map(|v| v as f32).collect());
        let r = embedding_bag(
            &[
                w.into(),
                Tensor::from_i64(vec![4], vec![1, 3, 2, 0]).into(),
                Tensor::from_i64(vec![3], vec![0, 2, 2]).into(),
                Value::Bool(false),
                Value::Int(mode),
                Value::Bool(false),
                Value::None,
                Value::Bool(false),
                Value::Int(padding_idx),
            ],
            false,
        )
        .unwrap();
        r.iter()
            .map(|v| v.as_tensor().unwrap().f64s().unwrap())
            .collect()
    }

    #[test]
    fn modes() {
        let r = bag(0, -1);
        assert_eq!(r[0], vec![8., 10., 0., 0., 4., 6.]);
        assert!(r[1].is_empty());
        let r = bag(1, -1);
        assert_eq!(r[0], vec![4., 5., 0., 0., 2., 3.]);
        assert_eq!(r[1], vec![0., 0., 2., 2.]);
        assert_eq!(r[2], vec![2., 0., 2.]);
        let r = bag(2, 3);
        assert_eq!(r[0], vec![2., 3., 0., 0., 4., 5.]);
        assert_eq!(r[3], vec![1., 1., 0., 0., 2., 2.]);
        assert_eq!(r[2], vec![1., 0., 2.]);
    }

    #[test]
    fn dense_backward_scales_by_frequency() {
        let g = Tensor::from_f32(vec![3, 1], vec![1., 2., 4.]);
        let i = Tensor::from_i64(vec![3], vec![2, 0, 2]);
        let r = embedding_dense_backward(&[
            g.into(),
            i.into(),
            Value::Int(3),
            Value::Int(0),
            Value::Bool(true),
        ])
        .unwrap();
        assert_eq!(r[0].as_tensor().unwrap().to_f32_vec(), vec![0., 0., 2.5]);
    }
}
