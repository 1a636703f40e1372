// The host side of wasi-nn's witx ABI (`wasi_ephemeral_nn`, as used by the `wasi-nn` Rust
// crate 0.6) over wasm-torch's WebAssembly build.
//
// A guest compiled to wasm32-wasip1 imports six functions; each reads its arguments out of the
// guest's linear memory, checks every pointer and length against that memory, calls
// wasm-torch, writes results back and returns an `nn_errno`. Nothing here throws into the
// guest: every failure, including a bug in this file or a trap inside wasm-torch, becomes an
// error code (the message is kept in `lastError()` for debugging).
//
// Layouts and numbering come from the `wasi-nn` 0.6 crate (src/generated.rs), not from guesses:
//   tensor (20 bytes, align 4): dims_ptr u32 @0, dims_len u32 @4, type u8 @8,
//                               data_ptr u32 @12, data_len u32 @16
//   graph_builder_array: `len` pairs of (ptr u32, len u32)
//   nn_errno: success 0, invalid_argument 1, invalid_encoding 2, missing_memory 3, busy 4,
//             runtime_error 5, unsupported_operation 6, too_large 7, not_found 8
//   graph_encoding: openvino 0, onnx 1, tensorflow 2, pytorch 3, tensorflowlite 4, autodetect 5
//   execution_target: cpu 0, gpu 1, tpu 2 (the crate's high-level API also sends 3 = AUTO)
//   tensor_type: f16 0, f32 1, f64 2, u8 3, i32 4, i64 5

/**
 * A model input or output; scalar inputs (format 1.1) also carry their kind, default and
 * whether they are fixed to it.
 * @typedef {{name: string, dtype: string, shape: (number|string)[], scalar?: string, default?: number|bigint|boolean, fixed?: boolean}} ValueSpec
 */
/** @typedef {{name: string, dtype: string, shape: number[], bytes: Uint8Array}} NamedTensor */
/**
 * The part of wasm-torch's wasm-bindgen module this host uses (`js/crate/`): `Loader.fromBytes`
 * returns a model with `inputs()`, `outputs()` and `createSession()`; a session's `run` takes
 * and returns `NamedTensor` arrays. Errors are `Error`s with a string `code`.
 * `free` releases a wasm-bindgen object now rather than at garbage collection;
 * `takePanicMessage` returns the message of the panic behind the last trap, if any.
 * @typedef {{Loader: {fromBytes(bytes: Uint8Array): WtModel}, takePanicMessage?(): string | undefined}} WasmTorch
 * @typedef {{inputs(): ValueSpec[], outputs(): ValueSpec[], createSession(): WtSession, free?(): void}} WtModel
 * @typedef {{run(inputs: NamedTensor[]): NamedTensor[], free?(): void}} WtSession
 */
/**
 * @typedef {object} WasiNnOptions
 * @property {WebAssembly.Memory | (() => WebAssembly.Memory)} [memory] the guest's memory, or
 *   a getter; otherwise call `bind(instance)` after instantiating (it uses `exports.memory`).
 * @property {Record<string, Uint8Array> | Map<string, Uint8Array>} [graphs] `.wtb` bytes for
 *   `load_by_name`, loaded on first use.
 * @property {number} [maxGraphBytes] refuse larger graph builders with TOO_LARGE (default 2 GiB).
 * @property {number} [maxTensorBytes] refuse larger input tensors with TOO_LARGE (default 1 GiB).
 * @property {(message: string) => void} [onError] called with each error's message.
 */

/** wasi-nn witx error numbers. */
export const NnErrno = Object.freeze({
  SUCCESS: 0,
  INVALID_ARGUMENT: 1,
  INVALID_ENCODING: 2,
  MISSING_MEMORY: 3,
  BUSY: 4,
  RUNTIME_ERROR: 5,
  UNSUPPORTED_OPERATION: 6,
  TOO_LARGE: 7,
  NOT_FOUND: 8,
});

/** wasi-nn witx graph encodings. */
export const GraphEncoding = Object.freeze({
  OPENVINO: 0, ONNX: 1, TENSORFLOW: 2, PYTORCH: 3, TENSORFLOWLITE: 4, AUTODETECT: 5,
});

/** wasi-nn witx execution targets (`AUTO` only exists in the Rust crate's high-level API). */
export const ExecutionTarget = Object.freeze({ CPU: 0, GPU: 1, TPU: 2, AUTO: 3 });

/** wasi-nn witx tensor types, and the wasm-torch dtype name of each. */
export const TensorType = Object.freeze({ F16: 0, F32: 1, F64: 2, U8: 3, I32: 4, I64: 5 });
const TENSOR_DTYPES = ['f16', 'f32', 'f64', 'u8', 'i32', 'i64'];
const DTYPE_SIZE = { f16: 2, bf16: 2, f32: 4, f64: 8, i64: 8, i32: 4, i16: 2, i8: 1, u8: 1, bool: 1, c64: 8 };

/** The `.wtb` magic: `\x89WTB\r\n\x1a\n`. */
const WTB_MAGIC = [0x89, 0x57, 0x54, 0x42, 0x0d, 0x0a, 0x1a, 0x0a];

/** wasm-torch error code (js/crate/error.rs) → wasi-nn errno. */
const ERRNO_OF_CODE = {
  BAD_FILE: NnErrno.INVALID_ARGUMENT,
  UNSUPPORTED_OPS: NnErrno.UNSUPPORTED_OPERATION,
  INVALID_INPUT: NnErrno.INVALID_ARGUMENT,
  OUT_OF_MEMORY: NnErrno.TOO_LARGE,
  RUNTIME: NnErrno.RUNTIME_ERROR,
};

/** An error carrying the errno to return to the guest. */
class NnError extends Error {
  /** @param {number} errno @param {string} message */
  constructor(errno, message) {
    super(message);
    this.errno = errno;
  }
}
const fail = (errno, message) => {
  throw new NnError(errno, message);
};

/**
 * The 0-d tensor holding a scalar input's default, as a guest would set it.
 * @param {ValueSpec} spec
 * @returns {NamedTensor}
 */
function defaultTensor(spec) {
  const v = spec.default;
  let bytes;
  if (spec.dtype === 'i64') bytes = new Uint8Array(new BigInt64Array([BigInt(/** @type {number|bigint} */ (v))]).buffer);
  else if (spec.dtype === 'f64') bytes = new Uint8Array(new Float64Array([Number(v)]).buffer);
  else bytes = new Uint8Array([v ? 1 : 0]);
  return { name: spec.name, dtype: spec.dtype, shape: [], bytes };
}

/**
 * The wasi-nn imports for one guest instance.
 *
 * @param {WasmTorch} wasmTorch wasm-torch's initialised wasm-bindgen module (e.g.
 *   `js/dist/wasm/simd/wasm_torch.js` after `initSync`).
 * @param {WasiNnOptions} [options]
 * @returns {{wasi_ephemeral_nn: Record<string, (...args: number[]) => number>}} the import
 *   object part; it also has non-enumerable `bind(instance)`, `registerGraph(name, bytes)`,
 *   `lastError()` and `dispose()` so it can be spread into an import object as is.
 */
export function createWasiNnImports(wasmTorch, options = {}) {
  if (!wasmTorch || !wasmTorch.Loader || typeof wasmTorch.Loader.fromBytes !== 'function') {
    throw new TypeError('createWasiNnImports: wasmTorch must be the initialised wasm-torch wasm-bindgen module (with Loader.fromBytes)');
  }
  const maxGraphBytes = options.maxGraphBytes ?? 2 ** 31;
  const maxTensorBytes = options.maxTensorBytes ?? 2 ** 30;
  /** @type {WebAssembly.Memory | (() => WebAssembly.Memory) | undefined} */
  let memorySource = options.memory;
  /** @type {Map<string, Uint8Array | WtModel>} */
  const named = new Map(options.graphs instanceof Map ? options.graphs : Object.entries(options.graphs ?? {}));
  /** @type {WtModel[]} */
  const graphs = [];
  /** @type {{model: WtModel, inputs: ValueSpec[], outputs: ValueSpec[], session: WtSession | null, set: (NamedTensor|undefined)[], results: NamedTensor[] | null}[]} */
  const contexts = [];
  let lastError = '';
  /** Set once wasm-torch trapped: its instance state is then unknown, so every later call fails. */
  let poisoned = '';

  /** The guest memory as bytes and a little-endian view, re-read on each call (it may grow). */
  function memory() {
    const m = typeof memorySource === 'function' ? memorySource() : memorySource;
    if (!m || !m.buffer || typeof m.buffer.byteLength !== 'number') {
      fail(NnErrno.MISSING_MEMORY, 'no guest memory: pass options.memory or call bind(instance)');
    }
    return { u8: new Uint8Array(m.buffer), dv: new DataView(m.buffer) };
  }

  /** Check that `[ptr, ptr+len)` lies inside the guest memory. */
  function checkRange(mem, ptr, len, what) {
    if (ptr + len > mem.u8.length) {
      fail(NnErrno.INVALID_ARGUMENT, `${what}: ${len} bytes at ${ptr} lie outside the guest's ${mem.u8.length}-byte memory`);
    }
  }
  const u32 = (mem, ptr, what) => {
    checkRange(mem, ptr, 4, what);
    return mem.dv.getUint32(ptr, true);
  };
  const putU32 = (mem, ptr, value, what) => {
    checkRange(mem, ptr, 4, what);
    mem.dv.setUint32(ptr, value, true);
  };

  /** Run `body` and turn whatever it throws into an errno. */
  function guard(name, body) {
    try {
      if (poisoned) fail(NnErrno.RUNTIME_ERROR, `wasm-torch trapped earlier and cannot be used any more (${poisoned})`);
      body();
      return NnErrno.SUCCESS;
    } catch (e) {
      let errno;
      let message = e && e.message ? e.message : String(e);
      if (e instanceof NnError) errno = e.errno;
      else if (e && typeof e === 'object' && typeof e.code === 'string' && e.code in ERRNO_OF_CODE) errno = ERRNO_OF_CODE[e.code];
      else {
        errno = NnErrno.RUNTIME_ERROR; // a trap inside wasm-torch or a bug here
        if (e instanceof WebAssembly.RuntimeError) {
          let panic;
          try { panic = wasmTorch.takePanicMessage?.(); } catch { /* the instance is gone */ }
          if (panic) message += ` (panic: ${panic})`;
          poisoned = message;
        }
      }
      lastError = `${name}: ${message}`;
      try {
        options.onError?.(lastError);
      } catch { /* a throwing logger must not turn into a trap in the guest */ }
      return errno;
    }
  }

  function loadModel(bytes) {
    if (bytes.length < WTB_MAGIC.length || WTB_MAGIC.some((b, i) => bytes[i] !== b)) {
      fail(NnErrno.INVALID_ENCODING, 'the graph bytes are not a .wtb file (magic missing)');
    }
    const model = wasmTorch.Loader.fromBytes(bytes);
    graphs.push(model);
    return graphs.length - 1;
  }

  function context(handle) {
    const c = contexts[handle >>> 0];
    if (!c) fail(NnErrno.INVALID_ARGUMENT, `no execution context ${handle >>> 0}`);
    return c;
  }

  const describe = (specs) => specs.map((s, i) => `${i}: '${s.name}' ${s.dtype}[${s.shape.join(', ')}]`).join(', ');

  const wasi_ephemeral_nn = {
    /** load(builder_array_ptr, builder_array_len, encoding, target, graph_ptr) */
    load(builderPtr, builderLen, encoding, target, graphPtr) {
      return guard('load', () => {
        const mem = memory();
        builderPtr >>>= 0; builderLen >>>= 0; encoding >>>= 0; target >>>= 0; graphPtr >>>= 0;
        if (encoding !== GraphEncoding.PYTORCH && encoding !== GraphEncoding.AUTODETECT) {
          fail(NnErrno.INVALID_ENCODING, `graph encoding ${encoding} is not supported; wasm-torch reads .wtb files as pytorch (3) or autodetect (5)`);
        }
        if (target === ExecutionTarget.GPU || target === ExecutionTarget.TPU) {
          fail(NnErrno.UNSUPPORTED_OPERATION, `execution target ${target} is not available; wasm-torch runs on the CPU only`);
        }
        if (target !== ExecutionTarget.CPU && target !== ExecutionTarget.AUTO) {
          fail(NnErrno.INVALID_ARGUMENT, `unknown execution target ${target}`);
        }
        if (builderLen !== 1) {
          fail(NnErrno.INVALID_ARGUMENT, `expected exactly one graph builder (the .wtb file), got ${builderLen}`);
        }
        checkRange(mem, graphPtr, 4, 'graph handle');
        const ptr = u32(mem, builderPtr, 'graph builder');
        const len = u32(mem, builderPtr + 4, 'graph builder');
        if (len > maxGraphBytes) fail(NnErrno.TOO_LARGE, `graph of ${len} bytes exceeds the ${maxGraphBytes}-byte limit`);
        checkRange(mem, ptr, len, 'graph bytes');
        // wasm-bindgen copies the bytes into wasm-torch's own memory.
        const handle = loadModel(mem.u8.subarray(ptr, ptr + len));
        putU32(memory(), graphPtr, handle, 'graph handle');
      });
    },

    /** load_by_name(name_ptr, name_len, graph_ptr) */
    load_by_name(namePtr, nameLen, graphPtr) {
      return guard('load_by_name', () => {
        const mem = memory();
        namePtr >>>= 0; nameLen >>>= 0; graphPtr >>>= 0;
        checkRange(mem, namePtr, nameLen, 'graph name');
        checkRange(mem, graphPtr, 4, 'graph handle');
        let name;
        try {
          name = new TextDecoder('utf-8', { fatal: true }).decode(mem.u8.slice(namePtr, namePtr + nameLen));
        } catch {
          fail(NnErrno.INVALID_ARGUMENT, 'graph name is not UTF-8');
        }
        const entry = named.get(name);
        if (entry === undefined) fail(NnErrno.NOT_FOUND, `no graph named '${name}' (registered: ${[...named.keys()].join(', ') || 'none'})`);
        let handle;
        if (entry instanceof Uint8Array) {
          handle = loadModel(entry);
          named.set(name, graphs[handle]); // load once, share afterwards
        } else {
          handle = graphs.indexOf(entry);
          if (handle < 0) { graphs.push(entry); handle = graphs.length - 1; }
        }
        putU32(memory(), graphPtr, handle, 'graph handle');
      });
    },

    /** init_execution_context(graph, context_ptr) */
    init_execution_context(graph, ctxPtr) {
      return guard('init_execution_context', () => {
        const mem = memory();
        ctxPtr >>>= 0;
        const model = graphs[graph >>> 0];
        if (!model) fail(NnErrno.INVALID_ARGUMENT, `no graph ${graph >>> 0}`);
        checkRange(mem, ctxPtr, 4, 'context handle');
        const inputs = model.inputs();
        contexts.push({ model, inputs, outputs: model.outputs(), session: null, set: new Array(inputs.length), results: null });
        putU32(memory(), ctxPtr, contexts.length - 1, 'context handle');
      });
    },

    /** set_input(context, index, tensor_ptr); a scalar input takes a 0-d tensor of its dtype. */
    set_input(ctx, index, tensorPtr) {
      return guard('set_input', () => {
        const c = context(ctx);
        const mem = memory();
        index >>>= 0; tensorPtr >>>= 0;
        checkRange(mem, tensorPtr, 20, 'tensor');
        const dimsPtr = mem.dv.getUint32(tensorPtr, true);
        const rank = mem.dv.getUint32(tensorPtr + 4, true);
        const type = mem.u8[tensorPtr + 8];
        const dataPtr = mem.dv.getUint32(tensorPtr + 12, true);
        const dataLen = mem.dv.getUint32(tensorPtr + 16, true);
        const spec = c.inputs[index];
        if (!spec) fail(NnErrno.NOT_FOUND, `no input ${index}; the model has [${describe(c.inputs)}]`);
        if (type >= TENSOR_DTYPES.length) fail(NnErrno.INVALID_ARGUMENT, `unknown tensor type ${type}`);
        let dtype = TENSOR_DTYPES[type];
        if (dtype === 'u8' && spec.dtype === 'bool') dtype = 'bool';
        // WASI-NN has no complex type: a c64 input is f32 with a trailing dimension of 2
        // holding (real, imaginary) pairs; the model's view drops that dimension.
        const pairs = spec.dtype === 'c64' && dtype === 'f32' && rank === spec.shape.length + 1 && rank > 0 && mem.dv.getUint32(dimsPtr + 4 * (rank - 1), true) === 2;
        if (pairs) dtype = 'c64';
        if (dtype !== spec.dtype) {
          if (spec.dtype === 'c64') {
            fail(NnErrno.INVALID_ARGUMENT, `input '${spec.name}': the model expects c64, which WASI-NN carries as f32 with a trailing dimension of 2 (real, imaginary)`);
          }
          fail(NnErrno.INVALID_ARGUMENT, `input '${spec.name}': tensor type ${dtype} given, the model expects ${spec.dtype}`);
        }
        if (rank - (pairs ? 1 : 0) !== spec.shape.length) {
          fail(NnErrno.INVALID_ARGUMENT, `input '${spec.name}': ${rank} dimensions given, the model expects ${spec.shape.length} ([${spec.shape.join(', ')}])`);
        }
        checkRange(mem, dimsPtr, rank * 4, 'tensor dimensions');
        const shape = [];
        let bytes = DTYPE_SIZE[dtype];
        for (let i = 0; i < rank - (pairs ? 1 : 0); i++) {
          const d = mem.dv.getUint32(dimsPtr + 4 * i, true);
          const want = spec.shape[i];
          if (typeof want === 'number' && want !== d) {
            fail(NnErrno.INVALID_ARGUMENT, `input '${spec.name}': dimension ${i} is ${d}, the model expects ${want} ([${spec.shape.join(', ')}])`);
          }
          shape.push(d);
          bytes *= d; // exact in a double up to 2^53; anything near that is refused below
        }
        if (bytes > maxTensorBytes) {
          fail(NnErrno.TOO_LARGE, `input '${spec.name}': dimensions [${shape.join(', ')}] need ${bytes} bytes, over the ${maxTensorBytes}-byte limit`);
        }
        if (bytes !== dataLen) {
          fail(NnErrno.INVALID_ARGUMENT, `input '${spec.name}': ${dataLen} data bytes given, dimensions [${shape.join(', ')}] of ${dtype} need ${bytes}`);
        }
        checkRange(mem, dataPtr, dataLen, 'tensor data');
        c.set[index] = { name: spec.name, dtype, shape, bytes: mem.u8.slice(dataPtr, dataPtr + dataLen) };
      });
    },

    /** compute(context) */
    compute(ctx) {
      return guard('compute', () => {
        const c = context(ctx);
        // A scalar input with a default (format 1.1) may be left unset: it takes the default.
        const missing = c.inputs.filter((s, i) => !c.set[i] && s.default === undefined).map((s) => s.name);
        if (missing.length) fail(NnErrno.INVALID_ARGUMENT, `inputs not set before compute: ${missing.join(', ')}`);
        const given = c.inputs.map((s, i) => c.set[i] ?? defaultTensor(s));
        c.results = null;
        c.session ??= c.model.createSession();
        c.results = c.session.run(/** @type {NamedTensor[]} */ (given));
      });
    },

    /** get_output(context, index, out_buffer, out_buffer_max_size, bytes_written_ptr) */
    get_output(ctx, index, outPtr, outMax, writtenPtr) {
      return guard('get_output', () => {
        const c = context(ctx);
        const mem = memory();
        index >>>= 0; outPtr >>>= 0; outMax >>>= 0; writtenPtr >>>= 0;
        checkRange(mem, writtenPtr, 4, 'bytes-written pointer');
        if (!c.outputs[index]) fail(NnErrno.NOT_FOUND, `no output ${index}; the model has [${describe(c.outputs)}]`);
        if (!c.results) fail(NnErrno.INVALID_ARGUMENT, 'get_output before a successful compute');
        const out = c.results[index].bytes;
        if (out.length > outMax) {
          // Tell the guest the size it needs (the error return itself carries no value).
          mem.dv.setUint32(writtenPtr, out.length, true);
          fail(NnErrno.TOO_LARGE, `output ${index} ('${c.outputs[index].name}') has ${out.length} bytes, the buffer only ${outMax}`);
        }
        checkRange(mem, outPtr, out.length, 'output buffer');
        mem.u8.set(out, outPtr);
        mem.dv.setUint32(writtenPtr, out.length, true);
      });
    },
  };

  const result = { wasi_ephemeral_nn };
  Object.defineProperties(result, {
    /** Use `instance.exports.memory` as the guest memory. */
    bind: {
      value: (instance) => {
        memorySource = () => /** @type {WebAssembly.Memory} */ (instance.exports.memory);
        return result;
      },
    },
    /** Make `.wtb` bytes (or a loaded model) available to `load_by_name`. */
    registerGraph: { value: (name, bytesOrModel) => { named.set(name, bytesOrModel); } },
    /** The message of the last error returned to the guest ('' when none). */
    lastError: { value: () => lastError },
    /** Free every model and session now (wasm-bindgen objects) instead of waiting for GC. */
    dispose: {
      value: () => {
        for (const c of contexts) c.session?.free?.();
        for (const g of new Set(graphs)) g.free?.();
        contexts.length = 0;
        graphs.length = 0;
        named.clear();
      },
    },
  });
  return result;
}
