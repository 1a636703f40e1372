// The wasi_ephemeral_nn imports called directly on a fake guest memory: the success path and
// every error code the host produces. Each call must return a code, never throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createWasiNnImports, NnErrno, GraphEncoding, ExecutionTarget, TensorType } from '../../js/wasi-nn/host.js';
import { FakeGuest, ROOT, fixture, f32s, loadWasmTorch } from './helpers.mjs';

const wasmTorch = await loadWasmTorch();
const model = readFileSync(fixture('scale_bias_relu.wtb'));
const x = readFileSync(fixture('x.f32')); // shape [2, 4]
const wantY = f32s(readFileSync(fixture('y.f32')));
const wantZ = f32s(readFileSync(fixture('z.f32')));

/** A fresh guest + imports; `call(name, ...args)` returns the errno and checks it is a number. */
function setup(options = {}) {
  const g = new FakeGuest();
  const nn = createWasiNnImports(wasmTorch, { memory: g.memory, ...options });
  const call = (name, ...args) => {
    const r = nn.wasi_ephemeral_nn[name](...args);
    assert.equal(typeof r, 'number', `${name} returned ${r}`);
    return r;
  };
  return { g, nn, call };
}

/** Load `bytes` and make a context; returns the context handle. */
function context(g, call, bytes = model) {
  const [bp, bl] = g.builders([bytes]);
  const gp = g.alloc(4);
  assert.equal(call('load', bp, bl, GraphEncoding.PYTORCH, ExecutionTarget.CPU, gp), NnErrno.SUCCESS);
  const cp = g.alloc(4);
  assert.equal(call('init_execution_context', g.readU32(gp), cp), NnErrno.SUCCESS);
  return g.readU32(cp);
}

function output(g, call, ctx, index, max = 1024) {
  const out = g.alloc(max);
  const wp = g.alloc(4);
  const errno = call('get_output', ctx, index, out, max, wp);
  return { errno, written: g.readU32(wp), bytes: g.u8.slice(out, out + g.readU32(wp)) };
}

test('load, set_input, compute, get_output give the reference outputs', () => {
  const { g, call } = setup();
  const ctx = context(g, call);
  assert.equal(call('set_input', ctx, 0, g.tensor([2, 4], TensorType.F32, x)), NnErrno.SUCCESS);
  assert.equal(call('compute', ctx), NnErrno.SUCCESS);
  const y = output(g, call, ctx, 0);
  assert.equal(y.errno, NnErrno.SUCCESS);
  assert.equal(y.written, 32);
  assert.deepEqual(f32s(y.bytes), wantY);
  const z = output(g, call, ctx, 1);
  assert.deepEqual(f32s(z.bytes), wantZ);
});

test('autodetect, AUTO target and load_by_name load the same graph', () => {
  const { g, call, nn } = setup({ graphs: { fixture: new Uint8Array(model) } });
  const [bp, bl] = g.builders([model]);
  const gp = g.alloc(4);
  assert.equal(call('load', bp, bl, GraphEncoding.AUTODETECT, ExecutionTarget.AUTO, gp), NnErrno.SUCCESS);
  const name = new TextEncoder().encode('fixture');
  const np = g.bytes(name);
  assert.equal(call('load_by_name', np, name.length, gp), NnErrno.SUCCESS);
  const cp = g.alloc(4);
  assert.equal(call('init_execution_context', g.readU32(gp), cp), NnErrno.SUCCESS);
  const ctx = g.readU32(cp);
  assert.equal(call('set_input', ctx, 0, g.tensor([2, 4], TensorType.F32, x)), NnErrno.SUCCESS);
  assert.equal(call('compute', ctx), NnErrno.SUCCESS);
  assert.deepEqual(f32s(output(g, call, ctx, 0).bytes), wantY);
  assert.equal(nn.lastError(), '');
});

test('INVALID_ENCODING: other encodings and bytes that are not a .wtb', () => {
  const { g, call, nn } = setup();
  for (const enc of [GraphEncoding.OPENVINO, GraphEncoding.ONNX, GraphEncoding.TENSORFLOW, GraphEncoding.TENSORFLOWLITE, 6, 255]) {
    const [bp, bl] = g.builders([model]);
    assert.equal(call('load', bp, bl, enc, ExecutionTarget.CPU, g.alloc(4)), NnErrno.INVALID_ENCODING, `encoding ${enc}`);
  }
  const [bp, bl] = g.builders([new TextEncoder().encode('PK\x03\x04 an onnx file?')]);
  assert.equal(call('load', bp, bl, GraphEncoding.AUTODETECT, ExecutionTarget.CPU, g.alloc(4)), NnErrno.INVALID_ENCODING);
  assert.match(nn.lastError(), /magic/);
});

test('UNSUPPORTED_OPERATION: GPU/TPU targets and ops the interpreter lacks', () => {
  const { g, call, nn } = setup();
  for (const t of [ExecutionTarget.GPU, ExecutionTarget.TPU]) {
    const [bp, bl] = g.builders([model]);
    assert.equal(call('load', bp, bl, GraphEncoding.PYTORCH, t, g.alloc(4)), NnErrno.UNSUPPORTED_OPERATION);
  }
  const [bp, bl] = g.builders([readFileSync(fixture('unsupported_op.wtb'))]);
  assert.equal(call('load', bp, bl, GraphEncoding.PYTORCH, ExecutionTarget.CPU, g.alloc(4)), NnErrno.UNSUPPORTED_OPERATION);
  assert.match(nn.lastError(), /aten::frobnicate\.default/);
});

test('INVALID_ARGUMENT: corrupt graphs, builder counts, bad targets, out-of-bounds pointers', () => {
  const { g, call } = setup();
  const gp = g.alloc(4);
  // Truncated files: a typed error at every cut, never a throw.
  for (let cut = 8; cut < model.length; cut += 37) {
    const [bp, bl] = g.builders([model.subarray(0, cut)]);
    assert.equal(call('load', bp, bl, GraphEncoding.PYTORCH, ExecutionTarget.CPU, gp), NnErrno.INVALID_ARGUMENT, `cut ${cut}`);
  }
  let [bp, bl] = g.builders([model, model]);
  assert.equal(call('load', bp, bl, GraphEncoding.PYTORCH, ExecutionTarget.CPU, gp), NnErrno.INVALID_ARGUMENT);
  assert.equal(call('load', bp, 0, GraphEncoding.PYTORCH, ExecutionTarget.CPU, gp), NnErrno.INVALID_ARGUMENT);
  [bp, bl] = g.builders([model]);
  assert.equal(call('load', bp, bl, GraphEncoding.PYTORCH, 9, gp), NnErrno.INVALID_ARGUMENT);
  const end = g.memory.buffer.byteLength;
  assert.equal(call('load', end - 4, 1, GraphEncoding.PYTORCH, ExecutionTarget.CPU, gp), NnErrno.INVALID_ARGUMENT);
  assert.equal(call('load', bp, bl, GraphEncoding.PYTORCH, ExecutionTarget.CPU, end - 2), NnErrno.INVALID_ARGUMENT);
  assert.equal(call('load', bp, bl, GraphEncoding.PYTORCH, ExecutionTarget.CPU, -1), NnErrno.INVALID_ARGUMENT);
  const badLen = g.u32s([g.bytes(model), 1 << 20]); // past the 256 KiB memory
  assert.equal(call('load', badLen, 1, GraphEncoding.PYTORCH, ExecutionTarget.CPU, gp), NnErrno.INVALID_ARGUMENT);
  assert.equal(call('init_execution_context', 12345, g.alloc(4)), NnErrno.INVALID_ARGUMENT);
  for (const f of ['compute']) assert.equal(call(f, 777), NnErrno.INVALID_ARGUMENT);
});

test('INVALID_ARGUMENT: tensors that do not match the model, and calls out of order', () => {
  const { g, call } = setup();
  const ctx = context(g, call);
  assert.equal(call('compute', ctx), NnErrno.INVALID_ARGUMENT, 'compute before set_input');
  assert.equal(output(g, call, ctx, 0).errno, NnErrno.INVALID_ARGUMENT, 'get_output before compute');
  const bad = [
    ['wrong type', [2, 4], TensorType.I32, x],
    ['unknown type', [2, 4], 6, x],
    ['wrong rank', [8], TensorType.F32, x],
    ['wrong fixed dim', [4, 2], TensorType.F32, x],
    ['short data', [2, 4], TensorType.F32, x.subarray(0, 28)],
    ['long data', [1, 4], TensorType.F32, x],
  ];
  for (const [what, dims, type, data] of bad) {
    assert.equal(call('set_input', ctx, 0, g.tensor(dims, type, data)), NnErrno.INVALID_ARGUMENT, what);
  }
  const t = g.tensor([2, 4], TensorType.F32, x);
  g.dv.setUint32(t + 12, g.memory.buffer.byteLength - 8, true); // data pointer past the end
  assert.equal(call('set_input', ctx, 0, t), NnErrno.INVALID_ARGUMENT, 'data out of bounds');
  assert.equal(call('set_input', ctx, 0, g.memory.buffer.byteLength - 10), NnErrno.INVALID_ARGUMENT, 'struct out of bounds');
});

test('NOT_FOUND: unknown graph names, input and output indices', () => {
  const { g, call } = setup({ graphs: { present: new Uint8Array(model) } });
  const name = new TextEncoder().encode('absent');
  assert.equal(call('load_by_name', g.bytes(name), name.length, g.alloc(4)), NnErrno.NOT_FOUND);
  const ctx = context(g, call);
  assert.equal(call('set_input', ctx, 1, g.tensor([2, 4], TensorType.F32, x)), NnErrno.NOT_FOUND);
  assert.equal(call('set_input', ctx, 0, g.tensor([2, 4], TensorType.F32, x)), NnErrno.SUCCESS);
  assert.equal(call('compute', ctx), NnErrno.SUCCESS);
  assert.equal(output(g, call, ctx, 2).errno, NnErrno.NOT_FOUND);
});

test('TOO_LARGE: a too-small output buffer (the needed size is reported) and huge inputs', () => {
  const { g, call } = setup({ maxTensorBytes: 1 << 20 });
  const ctx = context(g, call);
  assert.equal(call('set_input', ctx, 0, g.tensor([1 << 20, 4], TensorType.F32, x)), NnErrno.TOO_LARGE);
  assert.equal(call('set_input', ctx, 0, g.tensor([0xffffffff, 4], TensorType.F32, x)), NnErrno.TOO_LARGE);
  const huge = g.u32s([g.bytes(model), 0xfffffff0]); // a 4 GiB graph builder
  assert.equal(call('load', huge, 1, GraphEncoding.PYTORCH, ExecutionTarget.CPU, g.alloc(4)), NnErrno.TOO_LARGE);
  assert.equal(call('set_input', ctx, 0, g.tensor([2, 4], TensorType.F32, x)), NnErrno.SUCCESS);
  assert.equal(call('compute', ctx), NnErrno.SUCCESS);
  const small = output(g, call, ctx, 0, 31);
  assert.equal(small.errno, NnErrno.TOO_LARGE);
  assert.equal(small.written, 32, 'bytes_written holds the size needed');
  const exact = output(g, call, ctx, 0, 32);
  assert.equal(exact.errno, NnErrno.SUCCESS);
  assert.deepEqual(f32s(exact.bytes), wantY);
});

test('RUNTIME_ERROR: an op failing while running; the context stays usable', () => {
  const { g, call, nn } = setup();
  const ctx = context(g, call, readFileSync(fixture('runtime_error.wtb')));
  assert.equal(call('set_input', ctx, 0, g.tensor([2, 4], TensorType.F32, x)), NnErrno.SUCCESS);
  assert.equal(call('compute', ctx), NnErrno.RUNTIME_ERROR);
  assert.match(nn.lastError(), /compute: /);
  assert.equal(output(g, call, ctx, 0).errno, NnErrno.INVALID_ARGUMENT);
  // A good model on the same wasm-torch instance still works afterwards.
  const ok = context(g, call);
  assert.equal(call('set_input', ok, 0, g.tensor([2, 4], TensorType.F32, x)), NnErrno.SUCCESS);
  assert.equal(call('compute', ok), NnErrno.SUCCESS);
  assert.deepEqual(f32s(output(g, call, ok, 0).bytes), wantY);
});

test('MISSING_MEMORY: no guest memory bound (and a throwing onError changes nothing)', () => {
  const seen = [];
  const nn = createWasiNnImports(wasmTorch, { onError: (m) => { seen.push(m); throw new Error('logger broke'); } });
  assert.equal(nn.wasi_ephemeral_nn.load(0, 1, GraphEncoding.PYTORCH, ExecutionTarget.CPU, 0), NnErrno.MISSING_MEMORY);
  assert.equal(seen.length, 1);
  assert.match(seen[0], /^load: no guest memory/);
});

test('a backend that throws anything unexpected becomes RUNTIME_ERROR, not a host exception', () => {
  const g = new FakeGuest();
  const throwing = { Loader: { fromBytes() { throw new WebAssembly.RuntimeError('unreachable'); } } };
  const nn = createWasiNnImports(throwing, { memory: g.memory });
  const [bp, bl] = g.builders([model]);
  assert.equal(nn.wasi_ephemeral_nn.load(bp, bl, GraphEncoding.PYTORCH, ExecutionTarget.CPU, g.alloc(4)), NnErrno.RUNTIME_ERROR);
  assert.match(nn.lastError(), /unreachable/);
  // After a trap wasm-torch's state is unknown: every later call fails the same way.
  assert.equal(nn.wasi_ephemeral_nn.compute(0), NnErrno.RUNTIME_ERROR);
  assert.match(nn.lastError(), /trapped earlier/);
  assert.throws(() => createWasiNnImports({}), TypeError);
});

test('dispose frees models and sessions; their handles are then invalid', () => {
  const { g, call, nn } = setup();
  const ctx = context(g, call);
  assert.equal(call('set_input', ctx, 0, g.tensor([2, 4], TensorType.F32, x)), NnErrno.SUCCESS);
  assert.equal(call('compute', ctx), NnErrno.SUCCESS);
  nn.dispose();
  assert.equal(call('compute', ctx), NnErrno.INVALID_ARGUMENT);
  assert.equal(call('init_execution_context', 0, g.alloc(4)), NnErrno.INVALID_ARGUMENT);
});

test('the import object spreads to exactly the wasi_ephemeral_nn module', () => {
  const nn = createWasiNnImports(wasmTorch);
  assert.deepEqual(Object.keys({ ...nn }), ['wasi_ephemeral_nn']);
  assert.deepEqual(Object.keys(nn.wasi_ephemeral_nn).sort(),
    ['compute', 'get_output', 'init_execution_context', 'load', 'load_by_name', 'set_input']);
});

test('the js package exports these host imports as wasm-torch/wasi-nn', async () => {
  // One home: the module the tests exercise is the one the npm package publishes.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'js/package.json'), 'utf8'));
  const target = pkg.exports['./wasi-nn'];
  assert.equal(typeof target, 'string');
  const published = await import(pathToFileURL(join(ROOT, 'js', target)).href);
  assert.equal(published.createWasiNnImports, createWasiNnImports);
});

test('scalar inputs: 0-d tensors of their type, defaults when unset, wrong type or rank refused', () => {
  const { g, call } = setup();
  const ctx = context(g, call, readFileSync(fixture('scalars.wtb')));
  const X = [1, -2, 0.25];
  const expected = (n, alpha, neg) => X.map((v0) => {
    let v = Math.fround(v0);
    for (let i = 0; i < n; i++) v = Math.fround(v + Math.fround(alpha));
    return neg ? -v : v;
  });
  const i64 = (v) => new Uint8Array(new BigInt64Array([BigInt(v)]).buffer);
  const f64 = (v) => new Uint8Array(new Float64Array([v]).buffer);
  assert.equal(call('set_input', ctx, 0, g.tensor([3], TensorType.F32, new Uint8Array(new Float32Array(X).buffer))), NnErrno.SUCCESS);
  // n, alpha, neg unset: their defaults (3, 0.5, false).
  assert.equal(call('compute', ctx), NnErrno.SUCCESS);
  assert.deepEqual([...f32s(output(g, call, ctx, 0).bytes)], expected(3, 0.5, false));
  for (const n of [0, 1, 6]) {
    assert.equal(call('set_input', ctx, 1, g.tensor([], TensorType.I64, i64(n))), NnErrno.SUCCESS);
    assert.equal(call('compute', ctx), NnErrno.SUCCESS);
    assert.deepEqual([...f32s(output(g, call, ctx, 0).bytes)], expected(n, 0.5, false));
  }
  assert.equal(call('set_input', ctx, 2, g.tensor([], TensorType.F64, f64(-1.25))), NnErrno.SUCCESS);
  assert.equal(call('set_input', ctx, 3, g.tensor([], TensorType.U8, new Uint8Array([1]))), NnErrno.SUCCESS);
  assert.equal(call('compute', ctx), NnErrno.SUCCESS);
  assert.deepEqual([...f32s(output(g, call, ctx, 0).bytes)], expected(6, -1.25, true));
  // A tensor where a scalar is expected, a float for an int, a float for a bool.
  assert.equal(call('set_input', ctx, 1, g.tensor([2], TensorType.I64, new Uint8Array(16))), NnErrno.INVALID_ARGUMENT);
  assert.equal(call('set_input', ctx, 1, g.tensor([], TensorType.F64, f64(2))), NnErrno.INVALID_ARGUMENT);
  assert.equal(call('set_input', ctx, 3, g.tensor([], TensorType.F32, new Uint8Array(4))), NnErrno.INVALID_ARGUMENT);
  assert.equal(call('compute', ctx), NnErrno.SUCCESS);
  assert.deepEqual([...f32s(output(g, call, ctx, 0).bytes)], expected(6, -1.25, true));
});
