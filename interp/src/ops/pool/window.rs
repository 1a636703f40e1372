//! Pooling window geometry along one dim (kernel, stride, padding, dilation, ceil mode),
//! shared by the reference 1-3-d pools and their backward ops.

use crate::error::{Error, Result};
use crate::ops::{opt, per_dim};
use crate::value::Value;

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
}
