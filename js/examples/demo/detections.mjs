// Detections as plain data, and the comparison the detection page's self-check and the Node
// tests use: every expected detection must be matched by exactly one other with the same label,
// a score within SCORE_TOL and each box coordinate within BOX_ABS + BOX_REL·|value| pixels.
// Detections are compared as sets: scores tied to the last bit may come out of topk in either
// order.

/** Largest |Δscore| accepted between two matched detections. */
export const SCORE_TOL = 1e-5;
/** Largest |Δcoordinate| accepted, in pixels: BOX_ABS + BOX_REL·|coordinate|. */
export const BOX_ABS = 1e-3;
/** See BOX_ABS. */
export const BOX_REL = 1e-4;

/**
 * `{boxes: [[x1, y1, x2, y2]…], scores: […], labels: […]}` (numbers) from one image's output of
 * a detector: `{boxes, scores, labels}` of `Tensor`s (f32 [N, 4], f32 [N], i64 [N]).
 */
export function plainDetections(det) {
  const n = det.scores.shape[0];
  if (det.boxes.shape.length !== 2 || det.boxes.shape[0] !== n || det.boxes.shape[1] !== 4 || det.labels.shape[0] !== n) {
    throw new Error(`inconsistent detection shapes: boxes [${det.boxes.shape}], scores [${det.scores.shape}], labels [${det.labels.shape}]`);
  }
  const b = det.boxes.data;
  return {
    boxes: Array.from({ length: n }, (_, i) => [b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]].map(Number)),
    scores: Array.from(det.scores.data, Number),
    labels: Array.from(det.labels.data, Number),
  };
}

/**
 * Match `got` against `want` (both plain, see plainDetections). Returns
 * `{ ok, n, worstScore, worstBox, detail }`: `ok` when the counts agree and every wanted
 * detection has its own match within the tolerances; worst* are the largest differences
 * over the matched pairs; detail says what failed.
 */
export function matchDetections(want, got) {
  const n = want.scores.length;
  const res = { ok: false, n, worstScore: 0, worstBox: 0, detail: '' };
  if (got.scores.length !== n || got.boxes.length !== n || got.labels.length !== n) {
    res.detail = `${got.scores.length} detections, expected ${n}`;
    return res;
  }
  const used = new Array(n).fill(false);
  for (let i = 0; i < n; i++) {
    let hit = -1;
    for (let j = 0; j < n && hit < 0; j++) {
      if (used[j] || got.labels[j] !== want.labels[i] || !(Math.abs(got.scores[j] - want.scores[i]) <= SCORE_TOL)) continue;
      if (want.boxes[i].every((w, c) => Math.abs(got.boxes[j][c] - w) <= BOX_ABS + BOX_REL * Math.abs(w))) hit = j;
    }
    if (hit < 0) {
      res.detail = `expected detection ${i} (label ${want.labels[i]}, score ${want.scores[i]}, box [${want.boxes[i].map((v) => v.toFixed(2))}]) has no match`;
      return res;
    }
    used[hit] = true;
    res.worstScore = Math.max(res.worstScore, Math.abs(got.scores[hit] - want.scores[i]));
    for (let c = 0; c < 4; c++) res.worstBox = Math.max(res.worstBox, Math.abs(got.boxes[hit][c] - want.boxes[i][c]));
  }
  res.ok = true;
  res.detail = `${n} detections match (worst |Δscore| ${res.worstScore.toExponential(1)}, worst |Δbox| ${res.worstBox.toExponential(1)} px)`;
  return res;
}
