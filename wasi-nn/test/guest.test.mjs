// The Rust guest (wasi-nn crate 0.6, wasm32-wasip1) run under node:wasi with the wasi-nn host:
// results against the independently computed reference, and errors reaching the guest as
// wasi-nn error codes (the guest prints them and exits with status 2), never as traps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, GUEST_WASM, f32s, runGuest } from './helpers.mjs';

assert.ok(existsSync(GUEST_WASM), `guest not built: ${GUEST_WASM} (run wasi-nn/scripts/test.sh)`);
const wantY = f32s(readFileSync(join(FIXTURES, 'y.f32')));
const wantZ = f32s(readFileSync(join(FIXTURES, 'z.f32')));

function dirs() {
  const out = mkdtempSync(join(tmpdir(), 'wasi-nn-out-'));
  return { out, preopens: { '/fixtures': FIXTURES, '/out': out } };
}

test('guest runs the model from raw f32 input and writes the reference output', async () => {
  const { out, preopens } = dirs();
  const r = await runGuest(['/fixtures/scale_bias_relu.wtb', '/fixtures/x.f32', '/out/y.f32', '--dims', '2,4'], preopens);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(f32s(readFileSync(join(out, 'y.f32'))), wantY);
  // Top-5 lines are "index value", sorted by value, consistent with the written output.
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^output 0: 8 values \(32 bytes\)$/);
  // Rust prints the shortest decimal that round-trips an f32: parse back through fround.
  const top = lines.slice(1).map((l) => l.split(' ').map((v) => Math.fround(Number(v))));
  assert.equal(top.length, 5);
  const order = [...wantY.keys()].sort((a, b) => wantY[b] - wantY[a]);
  assert.deepEqual(top.map(([, v]) => v), order.slice(0, 5).map((i) => wantY[i]));
  for (const [i, v] of top) assert.equal(v, wantY[i]);
});

test('guest reads .npy input, autodetects the encoding and reads the second output', async () => {
  const { out, preopens } = dirs();
  const r = await runGuest(['/fixtures/scale_bias_relu.wtb', '/fixtures/x.npy', '/out/z.f32',
    '--encoding', 'autodetect', '--output-index', '1'], preopens);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(f32s(readFileSync(join(out, 'z.f32'))), wantZ);
});

test('guest loads a graph the host registered by name (load_by_name)', async () => {
  const { out, preopens } = dirs();
  const graphs = { fixture: new Uint8Array(readFileSync(join(FIXTURES, 'scale_bias_relu.wtb'))) };
  const r = await runGuest(['name:fixture', '/fixtures/x.npy', '/out/y.f32'], preopens, { graphs });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(f32s(readFileSync(join(out, 'y.f32'))), wantY);
  const missing = await runGuest(['name:absent', '/fixtures/x.npy', '/out/y.f32'], preopens, { graphs });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /NotFound/);
});

test('guest sees wasi-nn errors as error codes', async () => {
  const cases = [
    [['/fixtures/unsupported_op.wtb', '/fixtures/x.npy', '/out/o.f32'], /UnsupportedOperation/],
    [['/fixtures/scale_bias_relu.wtb', '/fixtures/x.npy', '/out/o.f32', '--encoding', 'onnx'], /InvalidEncoding/],
    [['/fixtures/x.npy', '/fixtures/x.npy', '/out/o.f32'], /InvalidEncoding/],
    [['/fixtures/scale_bias_relu.wtb', '/fixtures/x.f32', '/out/o.f32', '--dims', '4,2'], /InvalidArgument/],
    [['/fixtures/scale_bias_relu.wtb', '/fixtures/x.f32', '/out/o.f32', '--dims', '2,4', '--output-index', '5'], /NotFound/],
    [['/fixtures/runtime_error.wtb', '/fixtures/x.npy', '/out/o.f32'], /RuntimeError/],
  ];
  for (const [args, pattern] of cases) {
    const { preopens } = dirs();
    const r = await runGuest(args, preopens);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(' '));
  }
});
