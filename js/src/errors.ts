/**
 * Errors thrown by the SDK. Every error is an `Error` subclass with a stable string `code`, so
 * callers can branch on `err.code` (or `instanceof`) instead of parsing messages. The codes
 * coming from wasm are produced by `js/crate/error.rs`; keep both lists in sync.
 */

/** Every code an SDK error can carry. */
export type ErrorCode =
  | 'BAD_FILE'
  | 'UNSUPPORTED_OPS'
  | 'INVALID_INPUT'
  | 'OUT_OF_MEMORY'
  | 'RUNTIME'
  | 'ABORTED'
  | 'RELEASED'
  | 'INTERNAL'
  | 'UNSUPPORTED_ENVIRONMENT'
  | 'PROMPT_TOO_LONG'
  | 'NO_STATE'
  | 'NO_GENERATION_CONFIG'
  | 'BUSY'
  | 'NETWORK';

/** Base class of all SDK errors. */
export class WasmTorchError extends Error {
  /** What went wrong, as a stable string to switch on (`BAD_FILE`, `NETWORK`, ...); the subclass says the same. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The bytes are not a valid `.wtb` file (bad magic, version, checksum, truncated, ...). */
export class BadFileError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('BAD_FILE', message, options); }
}
/** The file uses ops this interpreter does not implement; the message lists them. */
export class UnsupportedOpsError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('UNSUPPORTED_OPS', message, options); }
}
/** Wrong inputs: missing/unknown name, dtype or shape mismatch, malformed tensor. */
export class InvalidInputError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('INVALID_INPUT', message, options); }
}
/** The model or a run needs more memory than the wasm instance can get. */
export class OutOfMemoryError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('OUT_OF_MEMORY', message, options); }
}
/** An op failed while running (e.g. an index out of range in the data). */
export class ExecutionError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('RUNTIME', message, options); }
}
/** A load or a generation was cancelled through its `AbortSignal`. */
export class AbortError extends WasmTorchError {
  constructor(message = 'the load was aborted', options?: { cause?: unknown }) { super('ABORTED', message, options); }
}
/** The session was released and cannot run any more. */
export class ReleasedError extends WasmTorchError {
  constructor(message = 'the session was released', options?: { cause?: unknown }) { super('RELEASED', message, options); }
}
/**
 * The wasm instance trapped (a bug: a panic or an unexpected abort). The instance is discarded;
 * sessions loaded on it fail with this error, new `Session.load` calls get a fresh instance.
 */
export class InternalError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('INTERNAL', message, options); }
}
/** The engine lacks something required (e.g. WebAssembly itself). */
export class UnsupportedEnvironmentError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('UNSUPPORTED_ENVIRONMENT', message, options); }
}

/** A prompt leaves no room in the model's KV cache (`max_cache_len`) for a new token. */
export class PromptTooLongError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('PROMPT_TOO_LONG', message, options); }
}
/** Generation needs a model with session state (a KV cache); this one has none. */
export class NoStateError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('NO_STATE', message, options); }
}
/**
 * Generation needs `generation.json` and `tokenizer.json` (model assets or given explicitly);
 * they are missing or malformed.
 */
export class NoGenerationConfigError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('NO_GENERATION_CONFIG', message, options); }
}
/** The session is already generating: one sequence at a time per KV cache. */
export class BusyError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('BUSY', message, options); }
}

/**
 * Fetching the model failed on the way: the connection could not be made or was cut, the
 * server sent fewer bytes than it announced, or it answered with a server error (HTTP 5xx).
 * Trying again later may work; a missing file (HTTP 4xx) is a `BadFileError` instead.
 */
export class NetworkError extends WasmTorchError {
  constructor(message: string, options?: { cause?: unknown }) { super('NETWORK', message, options); }
}

const BY_CODE: Record<string, new (message: string, options?: { cause?: unknown }) => WasmTorchError> = {
  BAD_FILE: BadFileError,
  UNSUPPORTED_OPS: UnsupportedOpsError,
  INVALID_INPUT: InvalidInputError,
  OUT_OF_MEMORY: OutOfMemoryError,
  RUNTIME: ExecutionError,
};

/** Turn an error coming out of the wasm bindings (an `Error` with a `code`) into a subclass. */
export function fromWasmError(err: unknown): WasmTorchError {
  if (err instanceof WasmTorchError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const Cls = typeof code === 'string' ? BY_CODE[code] : undefined;
  if (Cls) return new Cls(message, { cause: err });
  return new InternalError(`unexpected error from the wasm module: ${message}`, { cause: err });
}
