/**
 * `generation.json`: what a decoder LM file says about generating with it (cache length,
 * vocabulary size, EOS ids, chat template, input and output names). Parsed strictly: a wrong
 * or missing field is a `NoGenerationConfigError` naming it, before any token is made.
 */
import { NoGenerationConfigError } from '../errors.js';

/** The `format` string this SDK reads. */
export const GENERATION_FORMAT = 'wasm-torch-generation/1';

/** `generation.json`, validated, with camelCase names. */
export interface GenerationConfig {
  /** Tokens the KV cache holds: prompt + generated tokens may not exceed it. */
  maxCacheLen: number;
  /** Rows of the logits output (token ids are below it). */
  vocabSize: number;
  /**
   * The beginning-of-sequence token id (`bos_token_id`), or null. Informational: generation
   * does not prepend it; a chat template that wants it writes `bos_token` itself.
   */
  bosTokenId: number | null;
  /** Generation ends when one of these is made. */
  eosTokenIds: number[];
  /** The padding token id (`pad_token_id`), or null; one sequence at a time needs no padding, so generation does not use it. */
  padTokenId: number | null;
  /** Jinja chat template (Hugging Face convention), or null for a model without one. */
  chatTemplate: string | null;
  /** Special tokens by role (`bos_token`, `eos_token`, …): variables of the chat template. */
  specialTokens: Record<string, string>;
  /** Graph input names of the token ids ([1, T] i64) and their cache positions ([T] i64). */
  inputs: {
    /** The name of the token-ids input. */
    inputIds: string;
    /** The name of the cache-positions input (where in the KV cache each token goes). */
    cachePosition: string;
  };
  /** Graph output name of the logits ([1, T, vocab] f32). */
  logitsOutput: string;
}

function fail(what: string): never {
  throw new NoGenerationConfigError(`generation.json: ${what}`);
}

function tokenId(v: unknown, what: string, nullable: boolean): number | null {
  if (v === null || v === undefined) {
    if (nullable) return null;
    fail(`${what} is missing`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

function name(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(`${what} must be a non-empty string`);
  return v;
}

/** Parse `generation.json` from its bytes, text or an already parsed object. */
export function parseGenerationConfig(source: Uint8Array | string | object): GenerationConfig {
  let raw: unknown = source;
  if (source instanceof Uint8Array) raw = new TextDecoder('utf-8', { fatal: false }).decode(source);
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch (e) {
      fail(`not valid JSON (${(e as Error).message})`);
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('must be a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.format !== GENERATION_FORMAT) fail(`format must be '${GENERATION_FORMAT}', got ${JSON.stringify(o.format)}`);
  const maxCacheLen = tokenId(o.max_cache_len, 'max_cache_len', false)!;
  const vocabSize = tokenId(o.vocab_size, 'vocab_size', false)!;
  if (maxCacheLen < 2) fail('max_cache_len must be at least 2 (a prompt token and a new one)');
  if (vocabSize < 1) fail('vocab_size must be at least 1');
  const inVocab = (id: number | null, what: string) => {
    if (id !== null && id >= vocabSize) fail(`${what} ${id} is not below vocab_size ${vocabSize}`);
    return id;
  };
  if (!Array.isArray(o.eos_token_ids)) fail('eos_token_ids must be an array of token ids');
  const eosTokenIds = o.eos_token_ids.map((v, i) => inVocab(tokenId(v, `eos_token_ids[${i}]`, false), 'eos token id')!);
  const template = o.chat_template;
  if (template !== null && template !== undefined && typeof template !== 'string') fail('chat_template must be a string or null');
  const specialTokens: Record<string, string> = {};
  if (o.special_tokens !== undefined && o.special_tokens !== null) {
    if (typeof o.special_tokens !== 'object' || Array.isArray(o.special_tokens)) fail('special_tokens must be an object');
    for (const [k, v] of Object.entries(o.special_tokens as Record<string, unknown>)) {
      // Hugging Face writes some special tokens as {content: ...} objects and lists for
      // additional_special_tokens; the template only needs the plain strings.
      if (typeof v === 'string') specialTokens[k] = v;
      else if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') specialTokens[k] = (v as { content: string }).content;
    }
  }
  const inputs = o.inputs as Record<string, unknown> | undefined;
  if (!inputs || typeof inputs !== 'object') fail('inputs must be an object {input_ids, cache_position}');
  return {
    maxCacheLen,
    vocabSize,
    bosTokenId: inVocab(tokenId(o.bos_token_id, 'bos_token_id', true), 'bos_token_id'),
    eosTokenIds,
    padTokenId: inVocab(tokenId(o.pad_token_id, 'pad_token_id', true), 'pad_token_id'),
    chatTemplate: typeof template === 'string' ? template : null,
    specialTokens,
    inputs: { inputIds: name(inputs.input_ids, 'inputs.input_ids'), cachePosition: name(inputs.cache_position, 'inputs.cache_position') },
    logitsOutput: name(o.logits_output, 'logits_output'),
  };
}
