// The measurement of js/bench/run-while-loading.mjs, shared by Node and the browser page
// (run-while-loading.html): time to first output over a throttled download, with
// `runWhileLoading` against load-then-run, each divided by the time the download alone takes.

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Milliseconds to fetch `url` and read its body to the end. */
async function downloadMs(url) {
  const t0 = performance.now();
  const res = await fetch(url);
  const reader = res.body.getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
  return performance.now() - t0;
}

function sameBits(a, b) {
  for (const k of Object.keys(a)) {
    const x = new Uint8Array(a[k].data.buffer, a[k].data.byteOffset, a[k].data.byteLength);
    const y = new Uint8Array(b[k].data.buffer, b[k].data.byteOffset, b[k].data.byteLength);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

/**
 * `runs` rounds over `url` (served at `mbps` MB/s): the download alone, load-then-run, and a
 * load with `runWhileLoading`, interleaved so drifts of the machine hit all three alike.
 */
export async function measure({ Session, Tensor, url, mbps, runs, loadOptions, log = () => undefined }) {
  const image = new Float32Array(3 * 224 * 224);
  let seed = 1;
  for (let i = 0; i < image.length; i++) image[i] = ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const inputs = { image: new Tensor('f32', image, [1, 3, 224, 224]) };
  const rows = { download: [], plain: [], early: [], inference: [] };
  const throttled = `${url}?throttle=${mbps}`;
  for (let r = 0; r < runs; r++) {
    const d = await downloadMs(throttled);
    let t0 = performance.now();
    const plain = await Session.load(throttled, loadOptions);
    const want = await plain.run(inputs);
    const p = performance.now() - t0;
    plain.release();
    t0 = performance.now();
    const early = await Session.load(throttled, { ...loadOptions, runWhileLoading: inputs });
    const e = performance.now() - t0;
    if (!sameBits(early.firstOutputs, want)) throw new Error('runWhileLoading outputs differ from load-then-run');
    t0 = performance.now();
    await early.run(inputs);
    const inf = performance.now() - t0;
    early.release();
    rows.download.push(d);
    rows.plain.push(p);
    rows.early.push(e);
    rows.inference.push(inf);
    log(`  run ${r + 1}: download ${d.toFixed(0)} ms, load-then-run ${p.toFixed(0)} ms, runWhileLoading ${e.toFixed(0)} ms, inference ${inf.toFixed(0)} ms`);
  }
  const D = median(rows.download);
  return {
    mbps,
    downloadMs: D,
    inferenceMs: median(rows.inference),
    plainRatio: median(rows.plain.map((p, i) => p / rows.download[i])),
    earlyRatio: median(rows.early.map((e, i) => e / rows.download[i])),
    plainMs: median(rows.plain),
    earlyMs: median(rows.early),
  };
}
