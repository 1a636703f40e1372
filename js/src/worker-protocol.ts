/** Messages between `WorkerSession` (caller side) and `worker.js` (inside the Worker). */
import type { LoadOptions, LoadProgress, LoadStats, ValueInfo, BuildInfo } from './session.js';
import type { DType } from './tensor.js';
import type { ScalarValue } from './scalars.js';

/** A tensor as posted between threads. */
export interface PostedTensor {
  dtype: DType;
  shape: number[];
  data: ArrayBufferView;
}

/** Load options that can cross a thread boundary (no callbacks, no signal). */
export type PostedLoadOptions = Pick<LoadOptions, 'threads' | 'variant' | 'maxResumes' | 'cache'> & {
  wasmBaseUrl?: string;
  /** `LoadOptions.runWhileLoading`, as posted tensors. */
  runWhileLoading?: Record<string, PostedTensor>;
};

/** Caller → worker. */
export type Request =
  | { id: number; type: 'load'; source: unknown; options: PostedLoadOptions }
  | { id: number; type: 'abort'; target: number }
  | { id: number; type: 'run'; inputs: Record<string, PostedTensor | ScalarValue> }
  | { id: number; type: 'profile'; on?: boolean }
  | { id: number; type: 'reset-state' }
  | { id: number; type: 'release' }
  /** Answer to a 'spawn-pool' reply: the pool workers are ready, or why they are not. */
  | { id: 0; type: 'pool-spawned'; request: number; error?: string };

/** Worker → caller. */
export type Reply =
  | { id: number; type: 'progress'; progress: LoadProgress }
  | {
      id: number;
      type: 'loaded';
      inputs: ValueInfo[];
      outputs: ValueInfo[];
      states: ValueInfo[];
      build: BuildInfo;
      loadStats: LoadStats;
      /** The file's assets by name, in file order. */
      assets: [string, Uint8Array][];
      /** The outputs of the run made while loading (`runWhileLoading`). */
      firstOutputs?: Record<string, PostedTensor>;
    }
  | { id: number; type: 'result'; outputs: Record<string, PostedTensor> }
  | { id: number; type: 'profile'; profile: unknown }
  | { id: number; type: 'done' }
  | { id: number; type: 'error'; error: { code: string; name: string; message: string } }
  /**
   * Unprompted, in browsers: start `threads` thread-pool workers from `url` (the build's
   * worker start-up module) with `init`, and answer with 'pool-spawned'. The caller keeps the
   * workers and terminates them with the session. See POOL_SPAWNER in rayon-workers.js.
   */
  | { id: 0; type: 'spawn-pool'; request: number; url: string; threads: number; init: unknown };
