//! Greedy non-maximum suppression (torchvision's `nms`), exact and fast on many boxes.
//!
//! The greedy rule: visit boxes by decreasing score; a box not yet suppressed is kept and
//! suppresses every lower-scored box whose IoU with it is above the threshold. The plain
//! loop compares each kept box with every later box, O(kept × n): with the thousands of
//! boxes a detector's `batched_nms` sees (its coordinate offset puts each class far from the
//! others) that is seconds. Here each kept box compares only with boxes that can overlap it:
//! the boxes sorted by `x1`, in blocks with their largest `x2`, so a binary search cuts the
//! boxes that start right of it and a block check cuts the blocks that end left of it. The
//! filter uses comparisons only (no arithmetic, so no rounding), and the IoU test itself is
//! the plain loop's expression with the same operand order: the kept indices are identical.

use super::vision::{maxr, minr, Real};

/// Boxes per block of the `x1`-sorted index (one `x2` maximum each).
const BLOCK: usize = 64;

/// Indices kept by greedy NMS over `boxes` (`n × 4`, `x1, y1, x2, y2`) in decreasing score
/// order; equal scores keep their input order; NaN scores sort first (as `torch.sort`).
pub(super) fn greedy_nms<T: Real>(boxes: &[T], scores: &[T], thr: f64) -> Vec<i64> {
    let n = scores.len();
    let order = score_order(scores);
    let thr_t = T::of(thr);
    // A non-intersecting pair has IoU 0, -0 or NaN, above a threshold only when it is
    // negative (or NaN never): then every pair must be tested.
    if thr >= 0.0 && n > BLOCK {
        windowed(boxes, &order, thr_t)
    } else {
        all_pairs(boxes, &order, thr_t)
    }
}

/// Box indices by decreasing score, stable; NaN first.
fn score_order<T: Real>(s: &[T]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by(|&x, &y| {
        let (a, c) = (s[x].f64(), s[y].f64());
        match (a.is_nan(), c.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            _ => c.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
        }
    });
    order
}

fn area<T: Real>(b: &[T], i: usize) -> T {
    (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1])
}

/// Whether kept box `i` suppresses box `j` (torchvision's expression, `i` first).
#[inline]
fn suppresses<T: Real>(b: &[T], areas: &[T], i: usize, j: usize, thr: T) -> bool {
    let zero = T::of(0.0);
    let w = maxr(
        zero,
        minr(b[4 * i + 2], b[4 * j + 2]) - maxr(b[4 * i], b[4 * j]),
    );
    let h = maxr(
        zero,
        minr(b[4 * i + 3], b[4 * j + 3]) - maxr(b[4 * i + 1], b[4 * j + 1]),
    );
    let inter = w * h;
    inter / (areas[i] + areas[j] - inter) > thr
}

/// The plain greedy loop: every kept box against every later box.
fn all_pairs<T: Real>(b: &[T], order: &[usize], thr: T) -> Vec<i64> {
    let n = order.len();
    let areas: Vec<T> = (0..n).map(|i| area(b, i)).collect();
    let mut suppressed = vec![false; n];
    let mut keep = Vec::new();
    for (oi, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i as i64);
        for &j in &order[oi + 1..] {
            if !suppressed[j] && suppresses(b, &areas, i, j, thr) {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// The greedy loop with the overlap filter (`thr >= 0`). A pair can pass the IoU test only
/// if it intersects with positive width: `x1[j] < x2[i]` and `x2[j] > x1[i]` (for IEEE
/// floats `a - b > 0` implies `a > b`, infinities included). Boxes with a NaN coordinate
/// have a NaN area, so they neither suppress nor are suppressed: they stay out of the index.
fn windowed<T: Real>(b: &[T], order: &[usize], thr: T) -> Vec<i64> {
    let n = order.len();
    let areas: Vec<T> = (0..n).map(|i| area(b, i)).collect();
    let mut rank = vec![0usize; n];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    let has_nan = |i: usize| b[4 * i..4 * i + 4].iter().any(|v| v.f64().is_nan());
    let mut by_x1: Vec<usize> = (0..n).filter(|&i| !has_nan(i)).collect();
    by_x1.sort_by(|&p, &q| {
        b[4 * p]
            .partial_cmp(&b[4 * q])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let x1: Vec<T> = by_x1.iter().map(|&i| b[4 * i]).collect();
    let block_max_x2: Vec<T> = by_x1
        .chunks(BLOCK)
        .map(|c| c.iter().map(|&i| b[4 * i + 2]).fold(b[4 * c[0] + 2], maxr))
        .collect();
    let mut suppressed = vec![false; n];
    let mut keep = Vec::new();
    for &i in order {
        if suppressed[i] {
            continue;
        }
        keep.push(i as i64);
        if has_nan(i) {
            continue;
        }
        let (ix1, ix2) = (b[4 * i], b[4 * i + 2]);
        // Boxes at positions < end start left of this box's right edge.
        let end = x1.partition_point(|&v| v < ix2);
        for blk in 0..end.div_ceil(BLOCK) {
            // A block whose boxes all end at or left of this box's left edge cannot overlap.
            let may_overlap = block_max_x2[blk] > ix1;
            if !may_overlap {
                continue;
            }
            for &j in &by_x1[blk * BLOCK..end.min((blk + 1) * BLOCK)] {
                if rank[j] > rank[i] && !suppressed[j] && suppresses(b, &areas, i, j, thr) {
                    suppressed[j] = true;
                }
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift) for box sets.
    struct Rng(u64);
    impl Rng {
        fn f(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    fn boxes(rng: &mut Rng, n: usize, odd: bool) -> (Vec<f32>, Vec<f32>) {
        let mut b = Vec::with_capacity(4 * n);
        let mut s = Vec::with_capacity(n);
        for k in 0..n {
            // A class offset as batched_nms adds, boxes of mixed sizes, some ties.
            let off = (k % 7) as f32 * 500.0;
            let (x, y) = (off + rng.f() * 300.0, off + rng.f() * 300.0);
            let (w, h) = (rng.f() * 60.0 + 1.0, rng.f() * 60.0 + 1.0);
            b.extend_from_slice(&[x, y, x + w, y + h]);
            s.push((rng.f() * 50.0).floor() / 50.0);
        }
        if odd {
            // Degenerate, inverted, infinite and NaN boxes, NaN scores, a huge box.
            b[0..4].copy_from_slice(&[5.0, 5.0, 5.0, 9.0]);
            b[4..8].copy_from_slice(&[9.0, 9.0, 3.0, 3.0]);
            b[8..12].copy_from_slice(&[f32::NEG_INFINITY, 0.0, 10.0, 10.0]);
            b[12..16].copy_from_slice(&[f32::NAN, 0.0, 10.0, 10.0]);
            b[16..20].copy_from_slice(&[0.0, 0.0, 4000.0, 4000.0]);
            b[20..24].copy_from_slice(&[1.0, 1.0, f32::INFINITY, 50.0]);
            s[3] = f32::NAN;
            s[9] = f32::NAN;
        }
        (b, s)
    }

    #[test]
    fn windowed_keeps_exactly_what_the_plain_loop_keeps() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..24 {
            let n = [65, 200, 1000, 3000][case % 4];
            let (b, s) = boxes(&mut rng, n, case % 2 == 1);
            for thr in [0.0, 0.2, 0.5, 0.9] {
                let order = score_order(&s);
                let want = all_pairs(&b, &order, thr as f32);
                let got = windowed(&b, &order, thr as f32);
                assert_eq!(got, want, "case {case} n {n} thr {thr}");
            }
        }
    }

    #[test]
    fn negative_or_nan_thresholds_take_the_plain_loop() {
        let mut rng = Rng(7);
        let (b, s) = boxes(&mut rng, 300, false);
        // Every box suppresses every later one at a negative threshold: one box is kept.
        assert_eq!(greedy_nms(&b, &s, -0.5).len(), 1);
        // Nothing is above NaN: every box is kept.
        assert_eq!(greedy_nms(&b, &s, f64::NAN).len(), 300);
    }
}
