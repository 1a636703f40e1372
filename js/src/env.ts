/** Small helpers about the host environment (Node or a browser/worker). */

/** True when running under Node.js (not a browser, not Deno's web mode). */
export const isNode: boolean =
  typeof process !== 'undefined' && typeof process.versions === 'object' && typeof process.versions.node === 'string';

/** Lazily import a Node built-in; kept behind a function so browser bundles never touch it. */
export async function nodeImport<T>(name: string): Promise<T> {
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as T;
}

/** Number of logical cores the engine reports (at least 1). */
export async function hardwareThreads(): Promise<number> {
  if (isNode) {
    const os = await nodeImport<typeof import('node:os')>('node:os');
    return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  }
  return Math.max(1, (globalThis.navigator && navigator.hardwareConcurrency) || 1);
}
