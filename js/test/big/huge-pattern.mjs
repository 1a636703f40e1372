// The expected outputs of the model written by the make_huge example (js/crate/examples/
// make_huge.rs), computed from its definition: weight w{k}[r, c] = ((7r + 3c + 5k) mod 17) - 5,
// outputs rowsum{k} (every row of w{k} summed: reads every weight byte), row{k} (row
// ROWS - 1 - 13k of w{k}: exact positions), tag{k}[i] = 1000k + i, and y = x + 1. Every value
// is a small integer, so the comparison is exact. Plain JavaScript without Node imports: the
// Node test (test/memory64.test.mjs) and the Chromium page (test/browser/memory64.mjs) share it.

/** Columns of every w{k} (fixed by make_huge). */
export const HUGE_COLS = 1024;

/** The sum of a row of w{k} whose first element is (a mod 17) - 5. */
function rowSum(a) {
  let s = 0;
  for (let c = 0; c < HUGE_COLS; c++) s += ((a + 3 * c) % 17) - 5;
  return s;
}

/**
 * Check the outputs of one run (a `{name: Tensor}` object) for input `x` (two floats) and
 * return the problems found (empty when every element is exact). `count` and `rows` are the
 * make_huge arguments.
 */
export function checkHugeOutputs(out, x, count, rows) {
  const problems = [];
  const sums = Array.from({ length: 17 }, (_, a) => rowSum(a));
  const expect = (name, n, at) => {
    const t = out[name];
    if (!t) return problems.push(`no output ${name}`), undefined;
    if (t.data.length !== n) return problems.push(`${name}: ${t.data.length} elements, want ${n}`), undefined;
    for (let i = 0; i < n; i++) {
      if (t.data[i] !== at(i)) return problems.push(`${name}[${i}] = ${t.data[i]}, want ${at(i)}`), undefined;
    }
    return true;
  };
  for (let k = 0; k < count; k++) {
    expect(`rowsum${k}`, rows, (r) => sums[(7 * r + 5 * k) % 17]);
    const r = rows - 1 - 13 * k;
    expect(`row${k}`, HUGE_COLS, (c) => ((7 * r + 3 * c + 5 * k) % 17) - 5);
    expect(`tag${k}`, 16, (i) => 1000 * k + i);
  }
  expect('y', 2, (i) => Math.fround(x[i] + 1));
  return problems;
}
