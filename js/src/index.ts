/**
 * wasm-torch: run PyTorch models exported to `.wtb` in browsers and Node.
 *
 * `Session.load(source, options)` streams the file into wasm, `session.run({name: tensor})`
 * runs it. See README for the build selection, threads and the Worker wrapper.
 */
export { Session } from './session.js';
export { STRUCTURE_ASSET } from './structure.js';
export type { Nested, Structure, StructureNode } from './structure.js';
export type { LoadOptions, LoadProgress, LoadStats, ValueInfo, BuildInfo } from './session.js';
export { Tensor, dtypeSize, isDType } from './tensor.js';
export type { DType, TensorData, DataTypeMap } from './tensor.js';
export type { InputValue, ScalarKind, ScalarValue } from './scalars.js';
export { detectFeatures, chooseBuild, isThreaded, missingFeature, VARIANTS, WASM32_MEMORY_LIMIT } from './detect.js';
/** The low-level wasm module of a build, e.g. for `createWasiNnImports` (`wasm-torch/wasi-nn`). */
export { getRuntime } from './runtime.js';
export type { Features, BuildChoice, ChoiceOptions, Variant } from './detect.js';
export type { ModelSource } from './source.js';
export type { CacheCheck, CacheOutcome } from './model-cache.js';
export {
  WasmTorchError,
  BadFileError,
  UnsupportedOpsError,
  InvalidInputError,
  OutOfMemoryError,
  ExecutionError,
  AbortError,
  ReleasedError,
  InternalError,
  UnsupportedEnvironmentError,
  PromptTooLongError,
  NoStateError,
  NoGenerationConfigError,
  BusyError,
  NetworkError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
