/**
 * `TextGenerator`: autoregressive text generation on a decoder LM exported with a static KV
 * cache as session state (inputs `input_ids` [1, T] and `cache_position` [T], output `logits`
 * [1, T, vocab]). One prefill run over the prompt, then one run per new token; the cache stays
 * in the session between runs, so a step feeds one token.
 *
 * ```js
 * const gen = await TextGenerator.create(session);   // tokenizer + template from the model's assets
 * for await (const chunk of gen.generate([{ role: 'user', content: 'Hi!' }], { maxNewTokens: 64 })) {
 *   process.stdout.write(chunk.text);
 * }
 * ```
 *
 * Works on a `Session` and on a `WorkerSession` (the model runs in the worker, tokens are
 * chosen here).
 */
import { AbortError, BusyError, InvalidInputError, NoGenerationConfigError, NoStateError, PromptTooLongError } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { ValueInfo } from '../session.js';
import { parseGenerationConfig, type GenerationConfig } from './config.js';
import { nextToken, planSampling, Rng, type SamplingOptions } from './sampling.js';
import { ChatText, StreamingDetokenizer, loadTokenizer, type ChatMessage } from './text.js';

/** What generation needs of a session: `Session` and `WorkerSession` both fit. */
export interface GenerativeSession {
  /** The model's inputs; generation checks the ones `generation.json` names are there. */
  readonly inputs: readonly ValueInfo[];
  /** The model's outputs; generation reads the logits output `generation.json` names. */
  readonly outputs: readonly ValueInfo[];
  /** Session-state tensors; generation needs at least one (the KV cache). */
  readonly states?: readonly ValueInfo[];
  /** Run the model once on tokens and their cache positions; resolves to its outputs by name. */
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Put the session state (the KV cache) back to its initial value before a new sequence. */
  resetState(): void | Promise<void>;
  /** A named byte blob stored in the model file (`generation.json`, `tokenizer.json`). */
  asset?(name: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
}

/** Where the tokenizer and generation settings come from when not from the model's assets. */
export interface TextGeneratorOptions {
  /** `generation.json` (bytes, text or object); default: the model's asset of that name. */
  generationConfig?: Uint8Array | string | object;
  /** `tokenizer.json` (bytes, text or object); default: the model's asset of that name. */
  tokenizer?: Uint8Array | string | object;
}

/** Options of one `generate` call. */
export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to make (default 256); generation also ends when the cache is full. */
  maxNewTokens?: number;
  /**
   * The model's EOS ids and `stopTokenIds` cannot be chosen before this many tokens (their
   * logits are masked, as transformers' `min_new_tokens`; docs/llm.md); default 0.
   */
  minNewTokens?: number;
  /** Generation ends when the text contains one of these (the text stops before it). */
  stop?: string | readonly string[];
  /** Extra token ids that end generation, besides the model's EOS ids. */
  stopTokenIds?: readonly number[];
  /** Do not stop at the model's EOS ids (for benchmarks: always make `maxNewTokens`). */
  ignoreEos?: boolean;
  /** Chat input only: end the prompt with the assistant's turn header (default true). */
  addGenerationPrompt?: boolean;
  /** Stops generation: the iterator throws `AbortError`; the session stays usable. */
  signal?: AbortSignal;
  /** Called with each step's logits row ([vocab] f32, before any processing). Tests use it. */
  onLogits?: (logits: Float32Array, step: number) => void;
}

/** Why generation ended. */
export type FinishReason = 'eos' | 'stop' | 'max_tokens' | 'cache_full';

/** Timings of one generation so far. */
export interface GenerationStats {
  /** Tokens of the prompt (prefilled in one run). */
  promptTokens: number;
  /** Tokens made so far. */
  newTokens: number;
  /** Wall time of the prefill run (ms), which also makes the first token. */
  prefillMs: number;
  /** Wall time of the decode runs so far (ms). */
  decodeMs: number;
  /** Decode speed: tokens after the first per second of decode time (0 before the second). */
  tokensPerSecond: number;
}

/** One piece of the stream: a token and the text it completed, or the end. */
export interface GenerationChunk {
  /** The token made, absent on the final chunk. */
  token?: number;
  /** New text since the previous chunk (may be empty: a character still incomplete). */
  text: string;
  /** True on the last chunk. */
  done: boolean;
  /** On the last chunk: why generation ended. */
  finishReason?: FinishReason;
  /** Timings and token counts so far (final on the last chunk). */
  stats: GenerationStats;
}

/** The whole result of `complete`. */
export interface GenerationResult {
  /** The generated text (without the prompt, and without a stop string that ended it). */
  text: string;
  /** The ids of the generated tokens. */
  tokens: number[];
  /** The prompt's token ids, after the chat template and tokenizer. */
  promptIds: number[];
  /** Why generation ended. */
  finishReason: FinishReason;
  /** Timings and token counts of the whole generation. */
  stats: GenerationStats;
}

/** Input of a generation: plain text, chat messages, or token ids. */
export type GenerationInput =
  | string
  | readonly ChatMessage[]
  | {
      /** Token ids used as they are (no template, no tokenizer); each must be below the vocabulary size. */
      promptIds: readonly number[];
    };

async function readAsset(session: GenerativeSession, name: string): Promise<Uint8Array | undefined> {
  if (typeof session.asset !== 'function') return undefined;
  return (await session.asset(name)) ?? undefined;
}

/**
 * Lets timers and events run between steps: an in-thread `Session.run` resolves at once, and
 * without this an abort from a timer or a button would only be seen after the last token.
 */
function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (typeof g.setImmediate === 'function') return new Promise((r) => g.setImmediate!(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      r();
    };
    ch.port2.postMessage(0);
  });
}

/** Text generation over one session (one sequence at a time: the session holds one cache). */
export class TextGenerator {
  /** The generation settings read from `generation.json`. */
  readonly config: GenerationConfig;
  /** The tokenizer and chat template the prompts and outputs go through. */
  readonly text: ChatText;
  /** A model call of some generation is in flight (the session is in use). */
  private running = false;
  /** The newest generation's number: an older one that resumes finds itself superseded. */
  private current = 0;

  private constructor(
    /** The session whose model (and KV cache) generates. */
    readonly session: GenerativeSession,
    config: GenerationConfig,
    text: ChatText,
  ) {
    this.config = config;
    this.text = text;
  }

  /**
   * Check that `session` can generate (it has state, the inputs and output generation.json
   * names) and read its tokenizer and chat template.
   */
  static async create(session: GenerativeSession, options: TextGeneratorOptions = {}): Promise<TextGenerator> {
    if (!session || typeof session.run !== 'function') throw new InvalidInputError('TextGenerator.create needs a Session or WorkerSession');
    if (!session.states || session.states.length === 0) {
      throw new NoStateError('this model has no session state (no KV cache): export it with a static cache to generate text');
    }
    if (typeof session.resetState !== 'function') throw new InvalidInputError('the session cannot reset its state');
    const genSource = options.generationConfig ?? (await readAsset(session, 'generation.json'));
    if (genSource === undefined) throw new NoGenerationConfigError("the model has no 'generation.json' asset and none was given (options.generationConfig)");
    const config = parseGenerationConfig(genSource);
    const tokSource = options.tokenizer ?? (await readAsset(session, 'tokenizer.json'));
    if (tokSource === undefined) throw new NoGenerationConfigError("the model has no 'tokenizer.json' asset and none was given (options.tokenizer)");
    const text = new ChatText(loadTokenizer(tokSource), config);
    const names = session.inputs.map((i) => i.name);
    for (const want of [config.inputs.inputIds, config.inputs.cachePosition]) {
      if (!names.includes(want)) throw new NoGenerationConfigError(`generation.json names input '${want}', but the model's inputs are: ${names.join(', ')}`);
    }
    if (!session.outputs.some((o) => o.name === config.logitsOutput)) {
      throw new NoGenerationConfigError(`generation.json names output '${config.logitsOutput}', but the model's outputs are: ${session.outputs.map((o) => o.name).join(', ')}`);
    }
    return new TextGenerator(session, config, text);
  }

  /** The prompt ids of an input (chat messages through the template). */
  promptIds(input: GenerationInput, addGenerationPrompt = true): number[] {
    let ids: number[];
    if (typeof input === 'string') ids = this.text.encode(input);
    else if (Array.isArray(input)) ids = this.text.encode(this.text.applyChatTemplate(input as ChatMessage[], addGenerationPrompt));
    else if (input && typeof input === 'object' && Array.isArray((input as { promptIds?: unknown }).promptIds)) {
      ids = [...(input as { promptIds: number[] }).promptIds];
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
          throw new InvalidInputError(`prompt token id ${String(id)} is not an integer in [0, ${this.config.vocabSize})`);
        }
      }
    } else throw new InvalidInputError('generate() takes a string, an array of chat messages or {promptIds}');
    if (ids.length === 0) throw new InvalidInputError('the prompt is empty (no tokens)');
    // The prompt must leave a cache slot for the token it makes to be fed back.
    if (ids.length >= this.config.maxCacheLen) {
      throw new PromptTooLongError(
        `the prompt has ${ids.length} tokens; the model's cache holds ${this.config.maxCacheLen} (max_cache_len), so a prompt may have at most ${this.config.maxCacheLen - 1}`,
      );
    }
    return ids;
  }

  /** Run the model on `ids` at positions `start…`; returns the last position's logits row. */
  private async step(ids: readonly number[], start: number): Promise<Float32Array> {
    const T = ids.length;
    const inputIds = new Tensor('i64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, T]);
    const positions = new Tensor('i64', BigInt64Array.from({ length: T }, (_, i) => BigInt(start + i)), [T]);
    const out = await this.session.run({ [this.config.inputs.inputIds]: inputIds, [this.config.inputs.cachePosition]: positions });
    const logits = out[this.config.logitsOutput];
    const V = this.config.vocabSize;
    if (!logits || logits.dtype !== 'f32' || logits.data.length !== T * V) {
      throw new NoGenerationConfigError(`output '${this.config.logitsOutput}' is not f32 [1, ${T}, ${V}] (got ${logits?.dtype} [${logits?.shape.join(', ')}])`);
    }
    return (logits.data as Float32Array).subarray((T - 1) * V, T * V);
  }

  /**
   * Generate from `input`, streaming a chunk per token and a final chunk with the reason it
   * ended. The session's state is reset first, so every call is a new sequence.
   */
  async *generate(input: GenerationInput, options: GenerateOptions = {}): AsyncGenerator<GenerationChunk, void, undefined> {
    if (options === null || typeof options !== 'object') throw new InvalidInputError('options must be an object');
    const plan = planSampling(options);
    const maxNewTokens = options.maxNewTokens ?? 256;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new InvalidInputError(`maxNewTokens must be an integer >= 1, got ${String(maxNewTokens)}`);
    const minNewTokens = options.minNewTokens ?? 0;
    if (!Number.isInteger(minNewTokens) || minNewTokens < 0) throw new InvalidInputError(`minNewTokens must be an integer >= 0, got ${String(minNewTokens)}`);
    const stops = options.stop === undefined ? [] : typeof options.stop === 'string' ? [options.stop] : [...options.stop];
    if (stops.some((s) => typeof s !== 'string' || s.length === 0)) throw new InvalidInputError('stop strings must be non-empty strings');
    const stopIds = new Set<number>(options.ignoreEos ? [] : this.config.eosTokenIds);
    for (const id of options.stopTokenIds ?? []) {
      if (!Number.isInteger(id)) throw new InvalidInputError(`stopTokenIds must be integers, got ${String(id)}`);
      stopIds.add(id);
    }
    // What minNewTokens masks: every id that would end generation (EOS even under ignoreEos).
    const masked = [...new Set([...this.config.eosTokenIds, ...stopIds])];
    const { signal } = options;
    if (signal?.aborted) throw new AbortError('the generation was aborted');
    const promptIds = this.promptIds(input, options.addGenerationPrompt ?? true);
    // One sequence at a time per KV cache. A generation parked at a `yield` (its consumer
    // stopped pulling, or dropped it without `return()`) does not hold the session: a new
    // one supersedes it, and the old one's next step throws ABORTED. Only a model call in
    // flight makes a new generation BUSY.
    if (this.running) throw new BusyError('this session is running a step of another generation (one sequence at a time per KV cache)');
    const id = ++this.current;
    const model = async <T>(call: () => Promise<T>): Promise<T> => {
      if (this.current !== id) throw new AbortError('a newer generate() call on this TextGenerator started another sequence');
      if (this.running) throw new BusyError('this session is running a step of another generation (one sequence at a time per KV cache)');
      this.running = true;
      try {
        return await call();
      } finally {
        this.running = false;
      }
    };
    const rng = new Rng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    const detok = new StreamingDetokenizer(this.text, stops);
    const seen = [...promptIds];
    const stats: GenerationStats = { promptTokens: promptIds.length, newTokens: 0, prefillMs: 0, decodeMs: 0, tokensPerSecond: 0 };
    const snapshot = (): GenerationStats => ({ ...stats });
    const checkAbort = () => {
      if (signal?.aborted) throw new AbortError('the generation was aborted');
      if (this.current !== id) throw new AbortError('a newer generate() call on this TextGenerator started another sequence');
    };

    await model(async () => this.session.resetState());
    let t0 = performance.now();
    let logits = await model(() => this.step(promptIds, 0));
    stats.prefillMs = performance.now() - t0;
    let position = promptIds.length;
    for (let step = 0; ; step++) {
      checkAbort();
      options.onLogits?.(logits, step);
      let row = logits;
      if (stats.newTokens < minNewTokens) {
        row = Float32Array.from(logits);
        for (const id of masked) if (id >= 0 && id < row.length) row[id] = -Infinity;
      }
      const token = nextToken(row, seen, plan, rng);
      if (stopIds.has(token)) {
        yield { text: detok.finish(), done: true, finishReason: this.config.eosTokenIds.includes(token) && !options.stopTokenIds?.includes(token) ? 'eos' : 'stop', stats: snapshot() };
        return;
      }
      seen.push(token);
      stats.newTokens++;
      const piece = detok.push(token);
      if (detok.stoppedText !== undefined) {
        yield { token, text: piece, done: false, stats: snapshot() };
        yield { text: '', done: true, finishReason: 'stop', stats: snapshot() };
        return;
      }
      yield { token, text: piece, done: false, stats: snapshot() };
      const reason: FinishReason | undefined = stats.newTokens >= maxNewTokens ? 'max_tokens' : position >= this.config.maxCacheLen ? 'cache_full' : undefined;
      if (reason) {
        yield { text: detok.finish(), done: true, finishReason: reason, stats: snapshot() };
        return;
      }
      checkAbort();
      await yieldToEventLoop();
      checkAbort();
      t0 = performance.now();
      logits = await model(() => this.step([token], position));
      stats.decodeMs += performance.now() - t0;
      stats.tokensPerSecond = stats.newTokens / (stats.decodeMs / 1000);
      position++;
    }
  }

  /** `generate` to the end: the whole text and tokens. */
  async complete(input: GenerationInput, options: GenerateOptions = {}): Promise<GenerationResult> {
    const promptIds = this.promptIds(input, options.addGenerationPrompt ?? true);
    const tokens: number[] = [];
    let text = '';
    for await (const c of this.generate({ promptIds }, options)) {
      if (c.token !== undefined) tokens.push(c.token);
      text += c.text;
      if (c.done) return { text, tokens, promptIds, finishReason: c.finishReason!, stats: c.stats };
    }
    throw new InvalidInputError('generation ended without a final chunk');
  }
}
