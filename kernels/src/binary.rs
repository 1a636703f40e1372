//! Element-wise binary operators with numpy/PyTorch broadcasting.

/// A binary element-wise operator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b` (IEEE: x/0 = ±inf or NaN).
    Div,
    /// `torch.maximum`: NaN-propagating.
    Max,
    /// `torch.minimum`: NaN-propagating.
    Min,
    /// `a.powf(b)`.
    Pow,
}

/// The broadcast shape of `a` and `b` (numpy rules: align trailing dims; each pair equal or
/// one of them 1), or `None` if they are incompatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (i, o) in out.iter_mut().enumerate() {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

#[inline(always)]
fn op_fn(op: BinOp) -> fn(f32, f32) -> f32 {
    match op {
        BinOp::Add => |x, y| x + y,
        BinOp::Sub => |x, y| x - y,
        BinOp::Mul => |x, y| x * y,
        BinOp::Div => |x, y| x / y,
        BinOp::Max => |x, y| if x.is_nan() || x > y { x } else { y },
        BinOp::Min => |x, y| if x.is_nan() || x < y { x } else { y },
        BinOp::Pow => f32::powf,
    }
}

/// `out = a op b` with broadcasting. Preconditions (asserted): `out_shape ==
/// broadcast_shape(a_shape, b_shape)`, and each slice's length is its shape's product.
pub fn broadcast_binary(
    op: BinOp,
    a: &[f32],
    a_shape: &[usize],
    b: &[f32],
    b_shape: &[usize],
    out: &mut [f32],
    out_shape: &[usize],
) {
    assert_eq!(
        broadcast_shape(a_shape, b_shape).as_deref(),
        Some(out_shape),
        "broadcast_binary: out_shape is not the broadcast shape"
    );
    assert_eq!(
        a.len(),
        a_shape.iter().product::<usize>(),
        "broadcast_binary: a length"
    );
    assert_eq!(
        b.len(),
        b_shape.iter().product::<usize>(),
        "broadcast_binary: b length"
    );
    assert_eq!(
        out.len(),
        out_shape.iter().product::<usize>(),
        "broadcast_binary: out length"
    );
    if out.is_empty() {
        return;
    }
    // Collapse to dims of (size, a varies, b varies), dropping size-1 output dims and merging
    // neighbours with the same broadcast pattern, so the inner loop is as long as possible.
    let n = out_shape.len();
    let mut dims: Vec<(usize, bool, bool)> = Vec::with_capacity(n);
    for (i, &size) in out_shape.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let da = if i + a_shape.len() >= n {
            a_shape[i + a_shape.len() - n]
        } else {
            1
        };
        let db = if i + b_shape.len() >= n {
            b_shape[i + b_shape.len() - n]
        } else {
            1
        };
        let d = (size, da != 1, db != 1);
        match dims.last_mut() {
            Some(last) if last.1 == d.1 && last.2 == d.2 => last.0 *= size,
            _ => dims.push(d),
        }
    }
    let f = op_fn(op);
    let Some(&(inner, a_inner, b_inner)) = dims.last() else {
        out[0] = f(a[0], b[0]);
        return;
    };
    let outer_dims = &dims[..dims.len() - 1];
    // Strides of a and b over the collapsed outer dims (0 where broadcast).
    let mut sa = vec![0usize; outer_dims.len()];
    let mut sb = vec![0usize; outer_dims.len()];
    let (mut acc_a, mut acc_b) = (
        if a_inner { inner } else { 1 },
        if b_inner { inner } else { 1 },
    );
    for (i, &(size, va, vb)) in outer_dims.iter().enumerate().rev() {
        if va {
            sa[i] = acc_a;
            acc_a *= size;
        }
        if vb {
            sb[i] = acc_b;
            acc_b *= size;
        }
    }
    let mut idx = vec![0usize; outer_dims.len()];
    let (mut oa, mut ob) = (0usize, 0usize);
    for chunk in out.chunks_exact_mut(inner) {
        match (a_inner, b_inner) {
            (true, true) => {
                for ((d, &x), &y) in chunk
                    .iter_mut()
                    .zip(&a[oa..oa + inner])
                    .zip(&b[ob..ob + inner])
                {
                    *d = f(x, y);
                }
            }
            (true, false) => {
                let y = b[ob];
                for (d, &x) in chunk.iter_mut().zip(&a[oa..oa + inner]) {
                    *d = f(x, y);
                }
            }
            (false, true) => {
                let x = a[oa];
                for (d, &y) in chunk.iter_mut().zip(&b[ob..ob + inner]) {
                    *d = f(x, y);
                }
            }
            (false, false) => unreachable!("collapsed dims always vary in a or b"),
        }
        // Odometer over the outer dims.
        for i in (0..outer_dims.len()).rev() {
            idx[i] += 1;
            oa += sa[i];
            ob += sb[i];
            if idx[i] < outer_dims[i].0 {
                break;
            }
            oa -= sa[i] * idx[i];
            ob -= sb[i] * idx[i];
            idx[i] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(
        op: BinOp,
        a: &[f32],
        sa: &[usize],
        b: &[f32],
        sb: &[usize],
        so: &[usize],
    ) -> Vec<f32> {
        let total: usize = so.iter().product();
        let f = op_fn(op);
        (0..total)
            .map(|flat| {
                let mut rem = flat;
                let mut coord = vec![0; so.len()];
                for i in (0..so.len()).rev() {
                    coord[i] = rem % so[i];
                    rem /= so[i];
                }
                let at = |shape: &[usize]| {
                    let off = so.len() - shape.len();
                    shape.iter().enumerate().fold(0, |acc, (i, &d)| {
                        acc * d + if d == 1 { 0 } else { coord[i + off] }
                    })
                };
                f(a[at(sa)], b[at(sb)])
            })
            .collect()
    }

    fn shape_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
        prop::collection::vec((1usize..4, 0u8..3), 0..5).prop_flat_map(|dims| {
            let a: Vec<usize> = dims
                .iter()
                .map(|&(d, m)| if m == 1 { 1 } else { d })
                .collect();
            let b: Vec<usize> = dims
                .iter()
                .map(|&(d, m)| if m == 2 { 1 } else { d })
                .collect();
            (Just(a), Just(b), 0..=dims.len())
                .prop_map(|(a, b, cut)| (a, b[cut.min(b.len())..].to_vec()))
        })
    }

    proptest! {
        #[test]
        fn matches_naive((sa, sb) in shape_pair(), swap: bool) {
            let (sa, sb) = if swap { (sb, sa) } else { (sa, sb) };
            let so = broadcast_shape(&sa, &sb).unwrap();
            let a: Vec<f32> = (0..sa.iter().product::<usize>()).map(|i| i as f32 * 0.5 + 0.25).collect();
            let b: Vec<f32> = (0..sb.iter().product::<usize>()).map(|i| 1.5 - i as f32 * 0.25).collect();
            for op in [BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Max, BinOp::Min, BinOp::Pow] {
                let mut out = vec![0f32; so.iter().product()];
                broadcast_binary(op, &a, &sa, &b, &sb, &mut out, &so);
                let want = naive(op, &a, &sa, &b, &sb, &so);
                for (x, y) in out.iter().zip(&want) {
                    prop_assert!(x == y || (x.is_nan() && y.is_nan()), "{:?} {:?} {:?}: {} vs {}", op, sa, sb, x, y);
                }
            }
        }
    }

    #[test]
    fn shapes() {
        assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]), Some(vec![2, 4, 3]));
        assert_eq!(broadcast_shape(&[], &[5]), Some(vec![5]));
        assert_eq!(broadcast_shape(&[2], &[3]), None);
    }

    #[test]
    fn max_min_propagate_nan() {
        let mut out = [0f32; 2];
        broadcast_binary(
            BinOp::Max,
            &[f32::NAN, 1.0],
            &[2],
            &[0.0, f32::NAN],
            &[2],
            &mut out,
            &[2],
        );
        assert!(out[0].is_nan() && out[1].is_nan());
    }
}
