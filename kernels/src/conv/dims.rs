//! The set-up the convolution and the transposed convolution share: channel groups, spatial
//! sizes, the overflow check of every tensor size, and the slice-length preconditions.
//!
//! Both take `N×C×H×W` input and `N×O×OH×OW` output with channel groups and a `KH×KW`
//! kernel; they differ only in how the output size follows from the input and in which
//! channel count the weight's first axis has.

/// The sizes of a 2-D (transposed) convolution, with the operation's name for messages.
pub(crate) struct ConvDims {
    /// `"conv2d"` or `"conv_transpose2d"`.
    pub op: &'static str,
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub groups: usize,
    /// (height, width) of the input.
    pub in_hw: (usize, usize),
    /// (height, width) of the output.
    pub out_hw: (usize, usize),
    /// (height, width) of the kernel.
    pub kernel: (usize, usize),
}

impl ConvDims {
    /// Input channels per group.
    pub fn cin_g(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group.
    pub fn cout_g(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Pixels of one input plane.
    pub fn ihw(&self) -> usize {
        self.in_hw.0 * self.in_hw.1
    }

    /// Pixels of one output plane.
    pub fn ohw(&self) -> usize {
        self.out_hw.0 * self.out_hw.1
    }

    /// Taps of the kernel.
    pub fn kk(&self) -> usize {
        self.kernel.0 * self.kernel.1
    }

    /// Asserts the slices have the lengths these sizes give (`weight`, when given, paired
    /// with its expected length, which depends on the operation's weight layout).
    pub fn assert_lens(
        &self,
        input: &[f32],
        weight: Option<(&[f32], usize)>,
        bias: Option<&[f32]>,
        out: &[f32],
    ) {
        let op = self.op;
        let input_len = self.batch * self.in_channels * self.ihw();
        assert_eq!(input.len(), input_len, "{op}: input length");
        if let Some((w, len)) = weight {
            assert_eq!(w.len(), len, "{op}: weight length");
        }
        let out_len = self.batch * self.out_channels * self.ohw();
        assert_eq!(out.len(), out_len, "{op}: output length");
        if let Some(b) = bias {
            assert_eq!(b.len(), self.out_channels, "{op}: bias length");
        }
    }
}

/// The [`ConvDims`] of a `Conv2dParams` or `ConvTranspose2dParams` (same field names; a
/// macro because the two are distinct public types with no trait in common).
macro_rules! conv_dims {
    ($p:expr, $op:literal) => {
        $crate::conv::dims::ConvDims {
            op: $op,
            batch: $p.batch,
            in_channels: $p.in_channels,
            out_channels: $p.out_channels,
            groups: $p.groups,
            in_hw: ($p.in_h, $p.in_w),
            out_hw: ($p.out_h(), $p.out_w()),
            kernel: ($p.kernel_h, $p.kernel_w),
        }
    };
}
pub(crate) use conv_dims;

/// `Err` naming `op` unless every product of `sizes` (each a tensor's or buffer's
/// dimensions) fits in `usize`.
pub(crate) fn check_sizes(op: &str, sizes: &[[usize; 4]]) -> Result<(), String> {
    for s in sizes {
        s.iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("{op}: tensor size overflows"))?;
    }
    Ok(())
}
