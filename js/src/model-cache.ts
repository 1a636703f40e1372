/**
 * The opt-in model cache (`Session.load(url, { cache: true })`): the Cache API, keyed by the
 * model's URL, holding the response as the server sent it (with its ETag / Last-Modified).
 *
 * Why the Cache API and not OPFS: it stores a `Response` whole, streams it back as a body the
 * loader already knows how to read, is available on pages and in Workers alike, and keeps the
 * validators next to the bytes. Corruption needs no extra hash: the loader checks every chunk's
 * CRC and the file's structure, so a damaged entry fails with `BAD_FILE`, is evicted, and the
 * load goes to the network (see `Session.load`).
 */

/** How the cache took part in a load (`loadStats.cache`). */
export type CacheOutcome =
  /** Loaded from the cache, no download. */
  | 'hit'
  /** Not in the cache: downloaded and stored. */
  | 'miss'
  /** In the cache, but the server's ETag / Last-Modified changed: downloaded again and stored. */
  | 'stale'
  /** The cached copy failed to load (CRC or structure): evicted, downloaded again and stored. */
  | 'corrupt'
  /** Caching was asked for but is not possible here (`loadStats.cacheNote` says why). */
  | 'unavailable'
  /** Caching was not asked for (or the source is not a URL). */
  | 'off';

/** The default cache name. */
export const DEFAULT_CACHE_NAME = 'wasm-torch-models';

/** Opens the named cache, or says why it cannot. */
export async function openModelCache(name: string): Promise<{ cache?: Cache; note?: string }> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (!storage) {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    return { note: secure === false ? 'the Cache API needs a secure context (https or localhost)' : 'the Cache API is not available in this environment' };
  }
  try {
    return { cache: await storage.open(name) };
  } catch (e) {
    return { note: `opening the cache '${name}' failed: ${(e as Error).message}` };
  }
}

/** The entry for `url`, waiting up to ~1 s for a put to become visible. */
async function readBack(cache: Cache, url: URL): Promise<Response | undefined> {
  for (let i = 0; i < 20; i++) {
    const back = await cache.match(url);
    if (back) return back;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

/** The validator a response carries (ETag first), if any. */
export function validatorOf(res: Response): string | null {
  return res.headers.get('etag') ?? res.headers.get('last-modified');
}

/**
 * Whether the cached copy still matches the server: a HEAD request compares validators. When
 * the server cannot be asked (offline), the cached copy is used; when the entry has no
 * validator it is trusted as is (the URL names a fixed file).
 */
export async function stillFresh(url: URL, cached: Response, signal?: AbortSignal): Promise<boolean> {
  const mine = validatorOf(cached);
  if (mine === null) return true;
  let head: Response;
  try {
    head = await fetch(url, { method: 'HEAD', signal, cache: 'no-store' });
  } catch {
    return true;
  }
  if (!head.ok) return true;
  const theirs = validatorOf(head);
  return theirs === null || theirs === mine;
}

/**
 * Splits a network response: one body for the loader, one stored in `cache` under `url`.
 * `stored` resolves to `undefined` once stored, or to why it was not (quota, a cut download).
 */
export function teeIntoCache(cache: Cache, url: URL, res: Response): { body: ReadableStream<Uint8Array>; stored: Promise<string | undefined> } {
  const [forLoader, forCache] = res.body!.tee();
  const headers = new Headers();
  // A compressed response's content-length is its encoded size; the stored body is decoded.
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  for (const h of encoded ? ['content-type', 'etag', 'last-modified'] : ['content-type', 'content-length', 'etag', 'last-modified']) {
    const v = res.headers.get(h);
    if (v !== null) headers.set(h, v);
  }
  // Reading the entry back before reporting it stored: WebKit resolves a put before the entry
  // is committed, and a Worker terminated right after (WorkerSession.terminate) could lose it.
  const stored = cache
    .put(url, new Response(forCache, { status: 200, headers }))
    .then(() => readBack(cache, url))
    .then(
      (back) => (back ? undefined : 'the stored entry could not be read back'),
      (e: Error) => `storing in the cache failed: ${e.message}`,
    );
  return { body: forLoader, stored };
}
