/**
 * The opt-in model cache (`Session.load(url, { cache: true })`): the Cache API, keyed by the
 * model's URL, holding the response as the server sent it (with its ETag / Last-Modified).
 *
 * Why the Cache API and not OPFS: it stores a `Response` whole, streams it back as a body the
 * loader already knows how to read, is available on pages and in Workers alike, and keeps the
 * validators next to the bytes.
 *
 * Corruption: a download is checked chunk CRC by chunk CRC as it streams in; the loader also
 * takes a fast 128-bit digest of the whole file (js/crate/digest.rs), kept in a record next
 * to the entry (the cache `<name>:records`, same URL key). A warm load checks that digest
 * instead of the CRCs (CRC-32 runs at ~1 GB/s in wasm and was most of a warm load); an entry
 * without a matching record (written by an older version, or by hand) is checked by its CRCs
 * as before. Either way a damaged entry fails with `BAD_FILE`, is evicted, and the load goes
 * to the network (see `Session.load`).
 *
 * Revalidation: the record also keeps how long the server said the response stays fresh
 * (`Cache-Control: max-age`, less `Age`); within that time a warm load skips the HEAD request
 * that compares validators, which on a real network costs a round trip.
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

/** How a cache hit's bytes were checked (`loadStats.cacheCheck`). */
export type CacheCheck =
  /** Against the digest taken when the entry was stored (the fast path). */
  | 'digest'
  /** Chunk CRC by chunk CRC (the entry has no matching record). */
  | 'crcs';

/** What the SDK keeps beside a cached entry. */
export interface CacheRecord {
  /** The loader's digest of the file (32 hex digits). */
  digest: string;
  /** The entry's validator (ETag, else Last-Modified) when the record was written. */
  validator: string | null;
  /** The entry's content-length when the record was written. */
  length: string | null;
  /** Until when (ms since the epoch) the server called the response fresh; 0: revalidate. */
  freshUntil: number;
}

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
export function teeIntoCache(cache: Cache, url: URL, res: Response): { body: ReadableStream<Uint8Array>; stored: Promise<string | undefined>; headers: Headers } {
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
  return { body: forLoader, stored, headers };
}

/** The cache holding the records of cache `name`. */
function recordCacheName(name: string): string {
  return `${name}:records`;
}

/** Until when (ms since the epoch) a response is fresh per its Cache-Control; 0 if not at all. */
export function freshUntil(res: Response, now = Date.now()): number {
  const cc = (res.headers.get('cache-control') ?? '').toLowerCase();
  if (/(^|[\s,])(no-cache|no-store)([\s,=]|$)/.test(cc)) return 0;
  const m = /(^|[\s,])max-age\s*=\s*"?(\d+)/.exec(cc);
  if (!m) return 0;
  const age = Number(res.headers.get('age') ?? 0);
  const left = Number(m[2]) - (Number.isFinite(age) && age > 0 ? age : 0);
  return left > 0 ? now + left * 1000 : 0;
}

/** The record for `cached` (the entry under `url` in cache `name`), if one matches it. */
export async function readRecord(name: string, url: URL, cached: Response): Promise<CacheRecord | undefined> {
  try {
    const res = await (await caches.open(recordCacheName(name))).match(url);
    if (!res) return undefined;
    const r = (await res.json()) as Partial<CacheRecord>;
    if (typeof r.digest !== 'string' || !/^[0-9a-f]{32}$/.test(r.digest)) return undefined;
    // A record belongs to the bytes it was taken from: same validator, same length.
    if ((r.validator ?? null) !== validatorOf(cached) || (r.length ?? null) !== cached.headers.get('content-length')) return undefined;
    return { digest: r.digest, validator: r.validator ?? null, length: r.length ?? null, freshUntil: typeof r.freshUntil === 'number' ? r.freshUntil : 0 };
  } catch {
    return undefined;
  }
}

/** Stores the record of the entry stored from `res`; resolves to why not, if it failed. */
export async function writeRecord(name: string, url: URL, res: Response, headers: Headers, digest: string): Promise<string | undefined> {
  const record: CacheRecord = { digest, validator: validatorOf(res), length: headers.get('content-length'), freshUntil: freshUntil(res) };
  try {
    await (await caches.open(recordCacheName(name))).put(url, new Response(JSON.stringify(record), { headers: { 'content-type': 'application/json' } }));
    return undefined;
  } catch (e) {
    return `storing the cache record failed: ${(e as Error).message}`;
  }
}

/** Removes the entry for `url` and its record. */
export async function evictEntry(cache: Cache, name: string, url: URL): Promise<void> {
  await cache.delete(url);
  try {
    await (await caches.open(recordCacheName(name))).delete(url);
  } catch {
    /* no record cache: nothing to remove */
  }
}
