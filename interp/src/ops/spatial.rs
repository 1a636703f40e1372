//! Helpers shared by the spatial ops of `padding`, `pool3d`, `pool_backward`, `fold`,
//! `sampler` and `conv_backward`: batched/unbatched channel-first layouts, per-dim int-list
//! arguments, and pooling window geometry. These ops are not hot paths: they compute in f64
//! on contiguous copies and convert back to the input's float dtype at the end.

use super::{opt, to_usize};
use crate::error::{Error, Result};
use crate::storage::try_alloc;
use crate::tensor::{checked_numel, DType, Tensor};
use crate::value::Value;

/// The dtype a float-valued op returns for `t`: its own when floating, else f32.
pub(crate) fn float_out(t: &Tensor) -> DType {
    if t.dtype().is_float() {
        t.dtype()
    } else {
        DType::F32
    }
}

/// A zeroed f64 buffer for an output of `shape` (checked size: hostile shapes give
/// `OutOfMemory`, not an abort).
pub(crate) fn zeros_for(shape: &[usize]) -> Result<Vec<f64>> {
    try_alloc::<f64>(checked_numel(shape)?)
}

/// A channel-first input with `spatial` trailing dims, batched `(N, C, *)` or unbatched
/// `(C, *)`.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// Batch size (1 when unbatched).
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// The spatial dims, left-padded with 1s to three (so one 3-d loop serves 1/2/3-d).
    pub dims: [usize; 3],
    /// Whether the input had a batch dim.
    pub batched: bool,
}

impl Layout {
    /// Split `shape` into batch, channels and `spatial` dims; `op` names the caller in errors.
    pub(crate) fn of(shape: &[usize], spatial: usize, op: &str) -> Result<Layout> {
        let batched = shape.len() == spatial + 2;
        if !batched && shape.len() != spatial + 1 {
            return Err(Error::runtime(format!(
                "{op}: expected a {}-d or {}-d input, got {shape:?}",
                spatial + 1,
                spatial + 2
            )));
        }
        let (n, rest) = if batched {
            (shape[0], &shape[1..])
        } else {
            (1, shape)
        };
        let mut dims = [1; 3];
        dims[3 - spatial..].copy_from_slice(&rest[1..]);
        Ok(Layout {
            n,
            c: rest[0],
            dims,
            batched,
        })
    }

    /// The shape of an output with the same batch/channel layout and spatial dims `out`
    /// (the last `spatial` of the three).
    pub(crate) fn shape_with(&self, out: [usize; 3], spatial: usize) -> Vec<usize> {
        let mut s = Vec::with_capacity(spatial + 2);
        if self.batched {
            s.push(self.n);
        }
        s.push(self.c);
        s.extend_from_slice(&out[3 - spatial..]);
        s
    }

    /// Number of (batch, channel) planes (checked: an empty tensor may have huge batch
    /// and channel dims whose product overflows).
    pub(crate) fn planes(&self) -> Result<usize> {
        checked_numel(&[self.n, self.c])
    }
}

/// An int-list argument of `n` values (one value is repeated; `None`/empty gives
/// `default`), left-padded with `fill` to three entries.
pub(crate) fn per_dim(
    args: &[Value],
    i: usize,
    n: usize,
    default: i64,
    fill: i64,
    what: &str,
) -> Result<[i64; 3]> {
    let v = match opt(args, i) {
        Value::None => vec![],
        v => v.as_ints()?,
    };
    let v = match v.len() {
        0 => vec![default; n],
        1 => vec![v[0]; n],
        l if l == n => v,
        _ => {
            return Err(Error::runtime(format!(
                "{what}: expected {n} values, got {v:?}"
            )))
        }
    };
    let mut out = [fill; 3];
    out[3 - n..].copy_from_slice(&v);
    Ok(out)
}

/// Pooling geometry along one dim.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Axis {
    /// Input size.
    pub input: usize,
    /// Kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Implicit padding on both sides.
    pub pad: usize,
    /// Dilation.
    pub dilation: usize,
    /// Output size.
    pub out: usize,
}

impl Axis {
    /// Validate the parameters and compute the output size like PyTorch's
    /// `pooling_output_shape` (ceil mode drops a last window that starts in the padding).
    pub(crate) fn new(
        input: usize,
        kernel: i64,
        stride: i64,
        pad: i64,
        dilation: i64,
        ceil_mode: bool,
    ) -> Result<Axis> {
        let limit = i64::from(i32::MAX);
        if [kernel, stride, dilation, pad].iter().any(|&v| v > limit) {
            return Err(Error::runtime(format!(
                "pooling: kernel {kernel}, stride {stride}, padding {pad} or dilation                  {dilation} is too large"
            )));
        }
        if kernel <= 0 || stride <= 0 || dilation <= 0 || pad < 0 {
            return Err(Error::runtime(format!(
                "pooling: kernel {kernel}, stride {stride} and dilation {dilation} must be \
                 positive and padding {pad} non-negative"
            )));
        }
        let (i, k, s, p, d) = (
            input as i128,
            kernel as i128,
            stride as i128,
            pad as i128,
            dilation as i128,
        );
        if 2 * p > (k - 1) * d + 1 {
            return Err(Error::runtime(format!(
                "pooling: padding {pad} should be at most half of the effective kernel size"
            )));
        }
        let span = i + 2 * p - d * (k - 1) - 1 + if ceil_mode { s - 1 } else { 0 };
        let mut out = span.div_euclid(s) + 1;
        if ceil_mode && (out - 1) * s >= i + p {
            out -= 1;
        }
        if out <= 0 {
            return Err(Error::runtime(format!(
                "pooling: input size {input} is too small for kernel {kernel} (dilation \
                 {dilation}, padding {pad}): output size would be {out}"
            )));
        }
        let out = usize::try_from(out).map_err(|_| Error::oom("pooling output too large"))?;
        Ok(Axis {
            input,
            kernel: kernel as usize,
            stride: stride as usize,
            pad: pad as usize,
            dilation: dilation as usize,
            out,
        })
    }

    /// An identity axis (size 1) used to pad 1-d/2-d geometry to three dims.
    pub(crate) fn unit() -> Axis {
        Axis {
            input: 1,
            kernel: 1,
            stride: 1,
            pad: 0,
            dilation: 1,
            out: 1,
        }
    }

    /// First window position of output `o`, in input coordinates (may be negative).
    pub(crate) fn start(&self, o: usize) -> i64 {
        o as i64 * self.stride as i64 - self.pad as i64
    }
}

/// Three pooling axes from `kernel`, `stride` (empty means = kernel), `padding`, `dilation`
/// of a `spatial`-dim pool over `dims`.
pub(crate) fn pool_axes(
    args: &[Value],
    at: [Option<usize>; 4],
    spatial: usize,
    dims: [usize; 3],
    ceil_mode: bool,
) -> Result<[Axis; 3]> {
    let get = |i: Option<usize>, default: i64, what: &str| -> Result<[i64; 3]> {
        match i {
            Some(i) => per_dim(args, i, spatial, default, 1, what),
            None => Ok([default; 3]),
        }
    };
    if let Some(i) = at[0] {
        let empty = matches!(opt(args, i), Value::List(l) if l.is_empty());
        if empty || matches!(opt(args, i), Value::None) {
            return Err(Error::runtime("pooling: kernel_size is required"));
        }
    }
    let kernel = get(at[0], 1, "kernel_size")?;
    let stride = match at[1].map(|i| opt(args, i)) {
        Some(Value::List(l)) if l.is_empty() => kernel,
        Some(Value::None) | None => kernel,
        _ => get(at[1], 1, "stride")?,
    };
    let mut padding = get(at[2], 0, "padding")?;
    let dilation = get(at[3], 1, "dilation")?;
    for p in padding.iter_mut().take(3 - spatial) {
        *p = 0;
    }
    let mut axes = [Axis::unit(); 3];
    for d in 3 - spatial..3 {
        axes[d] = Axis::new(
            dims[d],
            kernel[d],
            stride[d],
            padding[d],
            dilation[d],
            ceil_mode,
        )?;
    }
    Ok(axes)
}

/// A non-negative int argument as usize (`what` names it in the error).
pub(crate) fn usize_of(v: i64, what: &str) -> Result<usize> {
    to_usize(v, what)
}

/// Read a `bool[3]` output mask (a missing or `None` mask means all three outputs).
pub(crate) fn output_mask(args: &[Value], i: usize) -> Result<[bool; 3]> {
    match opt(args, i) {
        Value::None => Ok([true; 3]),
        v => {
            let l = v.as_list()?;
            if l.len() != 3 {
                return Err(Error::runtime(format!(
                    "output_mask must have 3 values, got {}",
                    l.len()
                )));
            }
            Ok([l[0].as_bool()?, l[1].as_bool()?, l[2].as_bool()?])
        }
    }
}

/// A float tensor of `dtype` from f64 values.
pub(crate) fn tensor_f64(dtype: DType, shape: Vec<usize>, v: Vec<f64>) -> Value {
    Value::Tensor(Tensor::from_f64_as(dtype, shape, v))
}

/// One return of a backward op with an `output_mask`: the gradient as a `dtype` tensor
/// when its mask bit is set, `None` (what PyTorch returns) when it is not.
pub(crate) fn masked_grad(on: bool, dtype: DType, shape: &[usize], v: Vec<f64>) -> Value {
    if on {
        tensor_f64(dtype, shape.to_vec(), v)
    } else {
        Value::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_matches_pytorch_output_sizes() {
        // floor: (7 + 2 - 3) / 2 + 1 = 4; ceil: ceil(6 / 2) + 1 = 4
        assert_eq!(Axis::new(7, 3, 2, 1, 1, false).unwrap().out, 4);
        // (6 - 1 - 1) / 2 + 1 = 3; ceil mode keeps the partial last window of a 5-wide input
        assert_eq!(Axis::new(6, 2, 2, 0, 1, false).unwrap().out, 3);
        assert_eq!(Axis::new(5, 2, 2, 0, 1, true).unwrap().out, 3);
        assert_eq!(Axis::new(5, 2, 2, 0, 1, false).unwrap().out, 2);
        // padding larger than half the kernel, too-small input and zero stride are errors
        assert!(Axis::new(5, 2, 2, 2, 1, false).is_err());
        assert!(Axis::new(1, 3, 1, 0, 1, false).is_err());
        assert!(Axis::new(5, 2, 0, 0, 1, false).is_err());
        assert!(Axis::new(5, 1 << 40, 1, 0, 1 << 40, false).is_err());
    }

    #[test]
    fn layouts() {
        let l = Layout::of(&[2, 3, 4, 5], 2, "t").unwrap();
        assert_eq!((l.n, l.c, l.dims, l.batched), (2, 3, [1, 4, 5], true));
        assert_eq!(l.shape_with([1, 7, 8], 2), vec![2, 3, 7, 8]);
        let l = Layout::of(&[3, 4, 5], 2, "t").unwrap();
        assert!(!l.batched);
        assert_eq!(l.shape_with([1, 7, 8], 2), vec![3, 7, 8]);
        assert!(Layout::of(&[5], 2, "t").is_err());
    }
}
