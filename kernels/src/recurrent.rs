//! Recurrent-cell element-wise kernels: what is left of an LSTM step once its two gate
//! projections are computed.
//!
//! An exported LSTM runs each time step as a GEMV plus about a dozen element-wise ops on
//! vectors of a few hundred values (split, three sigmoids, two tanh, three products and a
//! sum). Run one op at a time, every one of them allocates its result and is dispatched on
//! its own; on a 2 × 256 LSTM that overhead is as large as the arithmetic. This module does
//! the whole cell in one pass over the gates, with the vectorised activations of
//! [`crate::activation`].

use crate::activation;

/// One LSTM cell step over `rows` independent rows (batch entries), PyTorch's gate order
/// (input, forget, cell, output).
///
/// `gates` holds, per row, the `4 * hidden` pre-activation gate values (the sum of the input
/// and hidden projections and their biases); on return it holds the activated gates
/// (`sigmoid(i)`, `sigmoid(f)`, `tanh(g)`, `sigmoid(o)`), which is also what PyTorch's fused
/// cell returns as its workspace. `cx` is the previous cell state (`hidden` values per row);
/// `cy = f * cx + i * g` and `hy = o * tanh(cy)` are written to `cy` and `hy`.
///
/// # Panics
/// When the slice lengths disagree: `gates.len() != 4 * hidden * rows` with
/// `rows = cx.len() / hidden`, or `hy`/`cy` not `cx.len()` long. Callers check shapes first.
pub fn lstm_cell(gates: &mut [f32], cx: &[f32], hy: &mut [f32], cy: &mut [f32], hidden: usize) {
    assert!(
        hidden > 0 && cx.len() % hidden == 0,
        "lstm_cell: bad hidden size"
    );
    let rows = cx.len() / hidden;
    assert_eq!(gates.len(), 4 * hidden * rows, "lstm_cell: gates length");
    assert!(
        hy.len() == cx.len() && cy.len() == cx.len(),
        "lstm_cell: state lengths"
    );
    for r in 0..rows {
        let g = &mut gates[r * 4 * hidden..(r + 1) * 4 * hidden];
        // Input and forget gates are adjacent: one sigmoid call covers both.
        activation::sigmoid(&mut g[..2 * hidden]);
        activation::tanh(&mut g[2 * hidden..3 * hidden]);
        activation::sigmoid(&mut g[3 * hidden..]);
        let (i_f, g_o) = g.split_at(2 * hidden);
        let (i, f) = i_f.split_at(hidden);
        let (gc, o) = g_o.split_at(hidden);
        let at = r * hidden..(r + 1) * hidden;
        let (c_prev, c_new, h_new) = (&cx[at.clone()], &mut cy[at.clone()], &mut hy[at]);
        for j in 0..hidden {
            c_new[j] = f[j] * c_prev[j] + i[j] * gc[j];
        }
        h_new.copy_from_slice(c_new);
        activation::tanh(h_new);
        for j in 0..hidden {
            h_new[j] *= o[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigmoid64(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Every output against an f64 evaluation of the same formulas, for several row counts
    /// and hidden sizes (odd ones too, so the SIMD tails run).
    #[test]
    fn matches_f64_reference() {
        for &(rows, hidden) in &[(1, 1), (1, 7), (3, 33), (2, 256), (5, 20)] {
            let n = rows * hidden;
            let mut gates: Vec<f32> = (0..4 * n)
                .map(|i| ((i * 7919) % 2000) as f32 / 250.0 - 4.0)
                .collect();
            let cx: Vec<f32> = (0..n)
                .map(|i| ((i * 104729) % 300) as f32 / 100.0 - 1.5)
                .collect();
            let pre = gates.clone();
            let (mut hy, mut cy) = (vec![0f32; n], vec![0f32; n]);
            lstm_cell(&mut gates, &cx, &mut hy, &mut cy, hidden);
            for r in 0..rows {
                for j in 0..hidden {
                    let p = |k: usize| pre[r * 4 * hidden + k * hidden + j] as f64;
                    let (i, f, g, o) = (
                        sigmoid64(p(0)),
                        sigmoid64(p(1)),
                        p(2).tanh(),
                        sigmoid64(p(3)),
                    );
                    let c = f * cx[r * hidden + j] as f64 + i * g;
                    let h = o * c.tanh();
                    let at = r * hidden + j;
                    assert!(
                        (cy[at] as f64 - c).abs() <= 1e-6 * (1.0 + c.abs()),
                        "cy {rows}x{hidden}@{at}"
                    );
                    assert!((hy[at] as f64 - h).abs() <= 1e-6, "hy {rows}x{hidden}@{at}");
                    for (k, want) in [i, f, g, o].into_iter().enumerate() {
                        let got = gates[r * 4 * hidden + k * hidden + j] as f64;
                        assert!((got - want).abs() <= 5e-7, "gate {k} {rows}x{hidden}@{at}");
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "gates length")]
    fn refuses_mismatched_lengths() {
        let mut gates = vec![0f32; 7];
        let (mut hy, mut cy) = (vec![0f32; 2], vec![0f32; 2]);
        lstm_cell(&mut gates, &[0.0, 0.0], &mut hy, &mut cy, 2);
    }
}
