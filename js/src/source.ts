/**
 * Model sources as streams of byte pieces: a URL (fetched), a `Response`, a `ReadableStream`,
 * bytes in memory, a `Blob`, or in Node a file path / `file:` URL (read with a file handle
 * into a reused buffer, so reading adds no garbage per piece).
 */
import { AbortError, BadFileError, InvalidInputError, NetworkError } from './errors.js';
import { isNode, nodeImport } from './env.js';
import { evictEntry, openModelCache, readRecord, stillFresh, teeIntoCache, writeRecord, type CacheOutcome } from './model-cache.js';

/** Anything `Session.load` accepts. */
export type ModelSource = string | URL | Response | ReadableStream<Uint8Array> | ArrayBuffer | ArrayBufferView | Blob;

/** An opened source: its size when known, and its pieces in order. */
export interface OpenedSource {
  totalBytes?: number;
  pieces: AsyncIterable<Uint8Array>;
  /** Where it came from, for messages. */
  description: string;
  /** How many times a cut download was resumed with an HTTP Range request (URL sources). */
  resumes?: () => number;
  /** How the model cache took part (URL sources with `cacheName`). */
  cache?: CacheOutcome;
  /** Why the cache was unavailable, or why storing failed. */
  cacheNote?: string;
  /** Removes this source's entry from the cache (set on a cache hit). */
  evict?: () => Promise<void>;
  /** Settles when the downloaded copy is stored: `undefined`, or why it was not. */
  stored?: Promise<string | undefined>;
  /**
   * On a cache hit with a matching record: the digest the file must have. The loader then
   * skips the chunk CRCs and checks this digest instead.
   */
  digest?: string;
  /** On a download being stored: keeps the loader's digest of it next to the entry. */
  remember?: (digest: string) => Promise<string | undefined>;
}

/** How a URL source is fetched. */
export interface FetchOptions {
  /**
   * How many times a download cut mid-way (or cut short) is resumed where it stopped, with an
   * HTTP Range request guarded by the response's ETag or Last-Modified (`If-Range`), so the
   * bytes cannot come from a changed file. Default 3; 0 turns resuming off. Servers that do
   * not announce `Accept-Ranges: bytes` and a validator are not resumed.
   */
  maxResumes?: number;
  /** Cache API cache to read the model from and store it in (http(s) URLs); absent: no cache. */
  cacheName?: string;
  /** Skip the cached copy (it failed to load) and download again, replacing it. */
  refreshCache?: boolean;
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

/** Refuse responses that cannot be a model before reading their body. */
function checkResponse(res: Response, description: string): void {
  if (res.status >= 500) throw new NetworkError(`fetching ${description} failed: HTTP ${res.status} ${res.statusText} (a server error)`);
  if (!res.ok) throw new BadFileError(`fetching ${description} failed: HTTP ${res.status} ${res.statusText}`);
  const type = (res.headers.get('content-type') ?? '').toLowerCase();
  if (type.startsWith('text/html')) {
    throw new BadFileError(`${description}: the server sent an HTML page (content-type ${type}), not a .wtb model; check the URL`);
  }
  if (!res.body) throw new BadFileError(`${description}: the response has no body`);
}

/** The body's size when the server states it and does not compress. */
function announcedSize(res: Response): number | undefined {
  const len = Number(res.headers.get('content-length'));
  // content-length is the encoded size when the server compresses; use it only when identity.
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  return Number.isFinite(len) && len > 0 && !encoded ? len : undefined;
}

function fromResponse(res: Response, description: string, signal?: AbortSignal, byob = false): OpenedSource {
  checkResponse(res, description);
  const totalBytes = announcedSize(res);
  return { totalBytes, pieces: checkedBody(res, description, totalBytes, signal, undefined, byob), description };
}

/**
 * A response body whose faults become `NetworkError`s (a cut connection, a body shorter than
 * announced). With `resume`, a fault asks it for a response continuing at the byte reached
 * (it throws when it cannot); without, the fault is thrown.
 */
async function* checkedBody(
  first: Response,
  description: string,
  totalBytes: number | undefined,
  signal?: AbortSignal,
  resume?: (received: number, fault: NetworkError) => Promise<Response>,
  byob = false,
): AsyncIterable<Uint8Array> {
  let received = 0;
  let res = first;
  for (;;) {
    let fault: NetworkError | undefined;
    try {
      for await (const piece of networkPieces(res, description, () => received, totalBytes, signal, byob)) {
        received += piece.byteLength;
        yield piece;
      }
    } catch (e) {
      if (!(e instanceof NetworkError)) throw e;
      fault = e;
    }
    if (!fault && (totalBytes === undefined || received >= totalBytes)) return;
    fault ??= new NetworkError(`${description}: the server sent ${received} of the ${totalBytes} bytes it announced`);
    if (!resume) throw fault;
    res = await resume(received, fault);
  }
}

/** Size of the buffer a cached body is read into (see `networkPieces`). */
const BYOB_BYTES = 4 << 20;

/**
 * A reader of `res`'s body: with `byob`, one that fills a buffer of ours (a byte stream's
 * BYOB reader) when the engine offers it, else the default reader.
 */
function bodyReader(res: Response, byob: boolean): { read(): Promise<ReadableStreamReadResult<Uint8Array>>; cancel(): Promise<void>; releaseLock(): void } {
  if (byob) {
    let reader: ReadableStreamBYOBReader | undefined;
    try {
      reader = res.body!.getReader({ mode: 'byob' });
    } catch {
      reader = undefined;
    }
    if (reader) {
      const r = reader;
      let buf = new ArrayBuffer(BYOB_BYTES);
      return {
        async read() {
          const got = await r.read(new Uint8Array(buf));
          // The read hands the buffer back (transferred) inside `value`: reuse it next time.
          if (got.value) buf = got.value.buffer as ArrayBuffer;
          return got as ReadableStreamReadResult<Uint8Array>;
        },
        cancel: () => r.cancel(),
        releaseLock: () => r.releaseLock(),
      };
    }
  }
  return res.body!.getReader();
}

/**
 * The pieces of one response body; a failed read is a `NetworkError` (or `AbortError`).
 * `byob` (cached bodies): read into one reused 4 MiB buffer, so each piece is as large as
 * what the engine has ready (the Cache API's default reader hands over 64 KiB pieces, and the
 * per-piece round trips were a large part of a warm load); a piece is valid only until the
 * next is asked for, which the loader, copying each into wasm memory at once, allows.
 */
async function* networkPieces(
  res: Response,
  description: string,
  received: () => number,
  totalBytes: number | undefined,
  signal?: AbortSignal,
  byob = false,
): AsyncIterable<Uint8Array> {
  const reader = bodyReader(res, byob);
  try {
    for (;;) {
      checkAbort(signal);
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        checkAbort(signal);
        const of = totalBytes !== undefined ? ` of ${totalBytes}` : '';
        throw new NetworkError(`${description}: the download failed after ${received()}${of} bytes: ${(e as Error).message}`, { cause: e });
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** Parses `Content-Range: bytes START-END/TOTAL`. */
function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * A URL's body, resumed where it stopped when the download is cut (or cut short) and the
 * server supports ranges with a validator; otherwise the fault is a `NetworkError`.
 */
function fromUrl(url: URL, first: Response, signal: AbortSignal | undefined, maxResumes: number): OpenedSource {
  const description = url.href;
  checkResponse(first, description);
  const totalBytes = announcedSize(first);
  const validator = first.headers.get('etag') ?? first.headers.get('last-modified');
  const resumable = maxResumes > 0 && totalBytes !== undefined && validator !== null && (first.headers.get('accept-ranges') ?? '').toLowerCase() === 'bytes';
  let resumes = 0;
  const resume = async (received: number, fault: NetworkError): Promise<Response> => {
    if (!resumable || resumes >= maxResumes) throw fault;
    resumes++;
    let res: Response;
    try {
      res = await fetch(url, { signal, headers: { range: `bytes=${received}-`, 'if-range': validator! } });
    } catch (e) {
      checkAbort(signal);
      throw new NetworkError(`${fault.message}; resuming failed: ${(e as Error).message}`, { cause: e });
    }
    if (res.status !== 206 || rangeStart(res) !== received || !res.body) {
      res.body?.cancel().catch(() => undefined);
      throw new NetworkError(`${fault.message}; the server did not resume at byte ${received} (HTTP ${res.status}, content-range ${res.headers.get('content-range') ?? 'none'})`);
    }
    return res;
  };
  return { totalBytes, pieces: checkedBody(first, description, totalBytes, signal, resume), description, resumes: () => resumes };
}

function isUrlLike(s: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(s) || s.startsWith('blob:') || s.startsWith('data:');
}

/** Open `source` for streaming. */
export async function openSource(source: ModelSource, signal?: AbortSignal, fetchOptions: FetchOptions = {}): Promise<OpenedSource> {
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
  const maxResumes = fetchOptions.maxResumes ?? 3;
  if (!Number.isInteger(maxResumes) || maxResumes < 0) throw new InvalidInputError('maxResumes must be a non-negative integer');
  if (fetchOptions.cacheName === undefined || !/^https?:$/.test(url!.protocol)) return fromUrl(url!, await fetchUrl(url!, signal), signal, maxResumes);
  return openCachedUrl(url!, fetchOptions.cacheName, fetchOptions.refreshCache === true, signal, maxResumes);
}

async function fetchUrl(url: URL, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { signal });
  } catch (e) {
    if (signal?.aborted) throw new AbortError(undefined, { cause: e });
    throw new NetworkError(`fetching ${url.href} failed: ${(e as Error).message}`, { cause: e });
  }
}

/** A URL through the model cache: the cached copy when fresh, else downloaded and stored. */
async function openCachedUrl(url: URL, cacheName: string, refresh: boolean, signal: AbortSignal | undefined, maxResumes: number): Promise<OpenedSource> {
  const { cache, note } = await openModelCache(cacheName);
  if (!cache) return { ...fromUrl(url, await fetchUrl(url, signal), signal, maxResumes), cache: 'unavailable', cacheNote: note };
  let outcome: CacheOutcome = 'miss';
  const hit = refresh ? undefined : await cache.match(url);
  if (hit?.body) {
    const record = await readRecord(cacheName, url, hit);
    // Within the freshness the server gave, the validators are not compared again.
    if ((record !== undefined && record.freshUntil > Date.now()) || (await stillFresh(url, hit, signal))) {
      return {
        ...fromResponse(hit, `${url.href} (cached)`, signal, true),
        cache: 'hit',
        evict: () => evictEntry(cache, cacheName, url),
        ...(record ? { digest: record.digest } : {}),
      };
    }
    outcome = 'stale';
    await evictEntry(cache, cacheName, url);
  }
  const res = await fetchUrl(url, signal);
  checkResponse(res, url.href);
  const { body, stored, headers } = teeIntoCache(cache, url, res);
  const forLoader = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  const remember = (digest: string) => writeRecord(cacheName, url, res, headers, digest);
  return { ...fromUrl(url, forLoader, signal, maxResumes), cache: outcome, stored, remember };
}
