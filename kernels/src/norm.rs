//! Normalisations: layer norm over rows, inference batch norm, group norm.

/// Layer normalisation of each row of `row_len` values:
/// `out = (x - mean) / sqrt(var + eps) * gamma + beta` with the biased variance (PyTorch).
/// Mean and variance are computed in two passes (f32, vectorised).
/// Preconditions (asserted): `row_len > 0`, `x.len()` a multiple of it, `out.len() ==
/// x.len()`, `gamma`/`beta` of length `row_len`.
pub fn layer_norm_rows(
    x: &[f32],
    row_len: usize,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
    eps: f32,
    out: &mut [f32],
) {
    assert!(row_len > 0, "layer_norm: row_len must be positive");
    assert_eq!(
        x.len() % row_len,
        0,
        "layer_norm: length not a multiple of row_len"
    );
    assert_eq!(out.len(), x.len(), "layer_norm: output length");
    if let Some(g) = gamma {
        assert_eq!(g.len(), row_len, "layer_norm: gamma length");
    }
    if let Some(b) = beta {
        assert_eq!(b.len(), row_len, "layer_norm: beta length");
    }
    for (row, dst) in x.chunks_exact(row_len).zip(out.chunks_exact_mut(row_len)) {
        let (mean, rstd) = mean_rstd(row, eps);
        for (i, (d, &v)) in dst.iter_mut().zip(row).enumerate() {
            let mut y = (v - mean) * rstd;
            if let Some(g) = gamma {
                y *= g[i];
            }
            if let Some(b) = beta {
                y += b[i];
            }
            *d = y;
        }
    }
}

/// Mean and `1 / sqrt(var + eps)` (biased variance) of `v`, two passes in f32 with
/// vectorised multi-accumulator sums.
fn mean_rstd(v: &[f32], eps: f32) -> (f32, f32) {
    let n = v.len() as f32;
    let mean = crate::lanes::sum(v) / n;
    let var = crate::lanes::sum_sq_dev(v, mean) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// Inference batch normalisation of an N×C×S tensor (S = product of spatial dims) as a
/// per-channel affine map: `out = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]`.
/// Preconditions (asserted): `x`/`out` have `batch*channels*spatial` values, the per-channel
/// slices have `channels`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_inference(
    x: &[f32],
    batch: usize,
    channels: usize,
    spatial: usize,
    mean: &[f32],
    var: &[f32],
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
    eps: f32,
    out: &mut [f32],
) {
    assert_eq!(
        x.len(),
        batch * channels * spatial,
        "batch_norm: input length"
    );
    assert_eq!(out.len(), x.len(), "batch_norm: output length");
    assert_eq!(mean.len(), channels, "batch_norm: mean length");
    assert_eq!(var.len(), channels, "batch_norm: var length");
    if let Some(w) = weight {
        assert_eq!(w.len(), channels, "batch_norm: weight length");
    }
    if let Some(b) = bias {
        assert_eq!(b.len(), channels, "batch_norm: bias length");
    }
    if spatial == 0 {
        return;
    }
    let plane_iter = x.chunks_exact(spatial).zip(out.chunks_exact_mut(spatial));
    for (idx, (src, dst)) in plane_iter.enumerate() {
        let c = idx % channels;
        let scale = weight.map_or(1.0, |w| w[c]) / (var[c] + eps).sqrt();
        let shift = bias.map_or(0.0, |b| b[c]) - mean[c] * scale;
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v * scale + shift;
        }
    }
}

/// Group normalisation of an N×C×S tensor: channels split into `groups` groups, each
/// (image, group) normalised over its `C/groups × S` values, then the per-channel affine
/// `gamma`, `beta`. Preconditions (asserted): `groups > 0`, `channels % groups == 0`,
/// lengths as described.
#[allow(clippy::too_many_arguments)]
pub fn group_norm(
    x: &[f32],
    batch: usize,
    channels: usize,
    spatial: usize,
    groups: usize,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
    eps: f32,
    out: &mut [f32],
) {
    assert!(
        groups > 0 && channels % groups == 0,
        "group_norm: channels % groups"
    );
    assert_eq!(
        x.len(),
        batch * channels * spatial,
        "group_norm: input length"
    );
    assert_eq!(out.len(), x.len(), "group_norm: output length");
    if let Some(g) = gamma {
        assert_eq!(g.len(), channels, "group_norm: gamma length");
    }
    if let Some(b) = beta {
        assert_eq!(b.len(), channels, "group_norm: beta length");
    }
    let gsize = channels / groups * spatial;
    if gsize == 0 {
        return;
    }
    for (gi, (src, dst)) in x
        .chunks_exact(gsize)
        .zip(out.chunks_exact_mut(gsize))
        .enumerate()
    {
        let (mean, rstd) = mean_rstd(src, eps);
        let c0 = (gi % groups) * (channels / groups);
        for (ci, (s, d)) in src
            .chunks_exact(spatial)
            .zip(dst.chunks_exact_mut(spatial))
            .enumerate()
        {
            let c = c0 + ci;
            let scale = rstd * gamma.map_or(1.0, |g| g[c]);
            let shift = beta.map_or(0.0, |b| b[c]) - mean * scale;
            for (d, &v) in d.iter_mut().zip(s) {
                *d = v * scale + shift;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn layer_norm_matches_f64(rows in 1usize..4, len in 1usize..70, data in prop::collection::vec(-10f32..10.0, 280), affine: bool) {
            let x: Vec<f32> = data.iter().cycle().take(rows * len).copied().collect();
            let g: Vec<f32> = (0..len).map(|i| 0.5 + i as f32 * 0.1).collect();
            let b: Vec<f32> = (0..len).map(|i| i as f32 * -0.2).collect();
            let mut out = vec![0f32; x.len()];
            let (gg, bb) = if affine { (Some(&g[..]), Some(&b[..])) } else { (None, None) };
            layer_norm_rows(&x, len, gg, bb, 1e-5, &mut out);
            for r in 0..rows {
                let row = &x[r * len..(r + 1) * len];
                let m: f64 = row.iter().map(|&v| v as f64).sum::<f64>() / len as f64;
                let var: f64 = row.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / len as f64;
                // f32 rounds `x - mean` to within a few ulps of max|x|, and the division by
                // sqrt(var + eps) magnifies that when a row is nearly constant (var ~ eps):
                // the forward error bound of any f32 layer norm, PyTorch's included.
                let max_abs = row.iter().fold(0f64, |a, &v| a.max((v as f64).abs()));
                let cancel = 8.0 * f32::EPSILON as f64 * max_abs / (var + 1e-5).sqrt();
                for i in 0..len {
                    let mut want = (row[i] as f64 - m) / (var + 1e-5).sqrt();
                    let gain = if affine { g[i].abs() as f64 } else { 1.0 };
                    if affine { want = want * g[i] as f64 + b[i] as f64; }
                    // 1e-5 absolute + relative (outputs are O(1..10)), plus the cancellation.
                    let tol = 1e-5 * (1.0 + want.abs()) + cancel * gain;
                    prop_assert!((out[r * len + i] as f64 - want).abs() <= tol);
                }
            }
        }
    }

    #[test]
    fn batch_norm_is_affine_per_channel() {
        let x: Vec<f32> = (0..2 * 3 * 4).map(|i| i as f32 * 0.5 - 3.0).collect();
        let (mean, var) = ([0.5, -1.0, 2.0], [1.0, 4.0, 0.25]);
        let (w, b) = ([2.0, 1.0, -1.0], [0.0, 1.0, 3.0]);
        let mut out = vec![0f32; x.len()];
        batch_norm_inference(&x, 2, 3, 4, &mean, &var, Some(&w), Some(&b), 0.0, &mut out);
        for (i, &o) in out.iter().enumerate() {
            let c = (i / 4) % 3;
            let want = (x[i] - mean[c]) / var[c].sqrt() * w[c] + b[c];
            assert!((o - want).abs() < 1e-5, "{i}: {o} vs {want}");
        }
    }

    #[test]
    fn group_norm_equals_layer_norm_per_group() {
        let x: Vec<f32> = (0..2 * 4 * 3).map(|i| ((i * 7) % 11) as f32).collect();
        let mut out = vec![0f32; x.len()];
        group_norm(&x, 2, 4, 3, 2, None, None, 1e-5, &mut out);
        let mut want = vec![0f32; x.len()];
        layer_norm_rows(&x, 6, None, None, 1e-5, &mut want);
        for (a, b) in out.iter().zip(&want) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
