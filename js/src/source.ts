/**
 * Model sources as streams of byte pieces: a URL (fetched), a `Response`, a `ReadableStream`,
 * bytes in memory, a `Blob`, or in Node a file path / `file:` URL (read with a file handle
 * into a reused buffer, so reading adds no garbage per piece).
 */
import { AbortError, BadFileError, InvalidInputError } from './errors.js';
import { isNode, nodeImport } from './env.js';

/** Anything `Session.load` accepts. */
export type ModelSource = string | URL | Response | ReadableStream<Uint8Array> | ArrayBuffer | ArrayBufferView | Blob;

/** An opened source: its size when known, and its pieces in order. */
export interface OpenedSource {
  totalBytes?: number;
  pieces: AsyncIterable<Uint8Array>;
  /** Where it came from, for messages. */
  description: string;
}

/** Size of the pieces fed to the parser from in-memory bytes and files. */
export const PIECE_BYTES = 1 << 20;

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError(`the load was aborted${signal.reason ? `: ${String(signal.reason)}` : ''}`);
}

async function* fromBytes(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  for (let off = 0; off < bytes.byteLength; off += PIECE_BYTES) {
    yield bytes.subarray(off, Math.min(bytes.byteLength, off + PIECE_BYTES));
  }
}

async function* fromStream(stream: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      checkAbort(signal);
      const { done, value } = await reader.read();
      if (done) return;
      if (!(value instanceof Uint8Array)) throw new InvalidInputError('the stream must yield Uint8Array pieces');
      yield value;
    }
  } finally {
    // On abort or error stop the underlying transfer; on normal end this is a no-op.
    reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

async function* fromFile(path: string, size: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
  const fh = await fs.open(path, 'r');
  try {
    const buf = new Uint8Array(PIECE_BYTES);
    let pos = 0;
    while (pos < size) {
      checkAbort(signal);
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      // The consumer copies the piece into wasm memory before asking for the next one.
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

function fromResponse(res: Response, description: string, signal?: AbortSignal): OpenedSource {
  if (!res.ok) throw new BadFileError(`fetching ${description} failed: HTTP ${res.status} ${res.statusText}`);
  const len = Number(res.headers.get('content-length'));
  // content-length is the encoded size when the server compresses; use it only when identity.
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const totalBytes = Number.isFinite(len) && len > 0 && !encoded ? len : undefined;
  if (!res.body) throw new BadFileError(`${description}: the response has no body`);
  return { totalBytes, pieces: fromStream(res.body, signal), description };
}

function isUrlLike(s: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(s) || s.startsWith('blob:') || s.startsWith('data:');
}

/** Open `source` for streaming. */
export async function openSource(source: ModelSource, signal?: AbortSignal): Promise<OpenedSource> {
  checkAbort(signal);
  if (source instanceof ArrayBuffer) {
    return { totalBytes: source.byteLength, pieces: fromBytes(new Uint8Array(source)), description: 'ArrayBuffer' };
  }
  if (ArrayBuffer.isView(source)) {
    const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return { totalBytes: bytes.byteLength, pieces: fromBytes(bytes), description: 'bytes' };
  }
  if (typeof Response !== 'undefined' && source instanceof Response) return fromResponse(source, 'Response', signal);
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) {
    return { totalBytes: undefined, pieces: fromStream(source, signal), description: 'ReadableStream' };
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return { totalBytes: source.size, pieces: fromStream(source.stream() as ReadableStream<Uint8Array>, signal), description: 'Blob' };
  }
  let url: URL | undefined;
  let path: string | undefined;
  if (source instanceof URL) {
    if (source.protocol === 'file:' && isNode) {
      const { fileURLToPath } = await nodeImport<typeof import('node:url')>('node:url');
      path = fileURLToPath(source);
    } else url = source;
  } else if (typeof source === 'string') {
    if (isNode && !isUrlLike(source)) path = source;
    else if (isNode && source.startsWith('file://')) {
      const { fileURLToPath } = await nodeImport<typeof import('node:url')>('node:url');
      path = fileURLToPath(source);
    } else url = new URL(source, (globalThis as { location?: Location }).location?.href);
  } else {
    throw new InvalidInputError('unsupported model source: give a URL, path, Response, ReadableStream, Blob or bytes');
  }
  if (path !== undefined) {
    const fs = await nodeImport<typeof import('node:fs/promises')>('node:fs/promises');
    let size: number;
    try {
      const st = await fs.stat(path);
      if (!st.isFile()) throw new Error('not a regular file');
      size = st.size;
    } catch (e) {
      throw new BadFileError(`cannot read model file '${path}': ${(e as Error).message}`, { cause: e });
    }
    return { totalBytes: size, pieces: fromFile(path, size, signal), description: path };
  }
  let res: Response;
  try {
    res = await fetch(url!, { signal });
  } catch (e) {
    if (signal?.aborted) throw new AbortError(undefined, { cause: e });
    throw new BadFileError(`fetching ${url!.href} failed: ${(e as Error).message}`, { cause: e });
  }
  return fromResponse(res, url!.href, signal);
}
