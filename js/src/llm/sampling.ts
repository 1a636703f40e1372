/**
 * Choosing the next token from a row of logits: repetition penalty, then (when sampling)
 * temperature, top-k and top-p, then a draw from a seeded generator. The order and the rules
 * are those of Hugging Face `generate` (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
 * TopKLogitsWarper, TopPLogitsWarper), so settings mean the same thing in both.
 */
import { InvalidInputError } from '../errors.js';

/** How the next token is chosen. */
export interface SamplingOptions {
  /** Sample from the distribution (true) or take the most likely token (false, default). */
  doSample?: boolean;
  /** Divides the logits before sampling; > 0, default 1. `0` means greedy. */
  temperature?: number;
  /** Keep only the k most likely tokens (ties at the k-th value kept); 0 = off (default). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 = off (default). */
  topP?: number;
  /** > 1 makes tokens already in the sequence less likely (CTRL paper); 1 = off (default). */
  repetitionPenalty?: number;
  /** Seed of the sampling generator (default: a random seed). */
  seed?: number;
}

/** The options with defaults filled in and checked. */
export interface SamplingPlan {
  /** Draw from the distribution (`doSample` and a temperature above 0); false means greedy. */
  sample: boolean;
  /** Logits are divided by it before sampling (default 1). */
  temperature: number;
  /** Keep only the K most likely tokens; 0 keeps all (the default). */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches P; 1 keeps all (the default). */
  topP: number;
  /** Divides positive (multiplies negative) logits of tokens already seen; 1 is off (the default). */
  repetitionPenalty: number;
}

/** Check the options (an `InvalidInputError` naming the bad one) and fill in defaults. */
export function planSampling(o: SamplingOptions): SamplingPlan {
  const num = (v: unknown, what: string, ok: (x: number) => boolean, rule: string, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new InvalidInputError(`${what} must be ${rule}, got ${String(v)}`);
    return v;
  };
  if (o.doSample !== undefined && typeof o.doSample !== 'boolean') throw new InvalidInputError('doSample must be a boolean');
  const temperature = num(o.temperature, 'temperature', (x) => x >= 0, 'a number >= 0', 1);
  const topK = num(o.topK, 'topK', (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0', 0);
  const topP = num(o.topP, 'topP', (x) => x > 0 && x <= 1, 'a number in (0, 1]', 1);
  const repetitionPenalty = num(o.repetitionPenalty, 'repetitionPenalty', (x) => x > 0, 'a number > 0', 1);
  num(o.seed, 'seed', (x) => Number.isInteger(x), 'an integer', 0);
  return { sample: (o.doSample ?? false) && temperature > 0, temperature, topK, topP, repetitionPenalty };
}

/**
 * Repetition penalty in place: every token id in `seen` has its logit divided by `penalty`
 * when positive, multiplied when negative (each id once, however often it occurs).
 */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    if (id < 0 || id >= logits.length) continue;
    const v = logits[id];
    logits[id] = v < 0 ? v * penalty : v / penalty;
  }
}

/** Index of the largest logit (the first one on ties, as `torch.argmax`). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(logits[i]))) {
      bestValue = logits[i];
      best = i;
    }
  }
  return best;
}

/** A candidate token and its probability after the warpers. */
export interface Candidate {
  /** The token id. */
  id: number;
  /** Its probability among the candidates left (they sum to 1). */
  p: number;
}

/**
 * The sampling distribution of one row of (already penalised) logits: temperature, top-k,
 * top-p, softmax. Returns the surviving tokens, most likely first, probabilities summing to 1.
 */
export function samplingDistribution(logits: Float32Array, plan: Pick<SamplingPlan, 'temperature' | 'topK' | 'topP'>): Candidate[] {
  const t = plan.temperature > 0 ? plan.temperature : 1;
  const values = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) values[i] = logits[i] / t;
  const scaled = (i: number) => values[i];
  let ids = Array.from({ length: logits.length }, (_, i) => i);
  ids.sort((a, b) => values[b] - values[a] || a - b);
  if (plan.topK > 0 && plan.topK < ids.length) {
    const kth = scaled(ids[plan.topK - 1]);
    let end = plan.topK;
    while (end < ids.length && scaled(ids[end]) >= kth) end++;
    ids = ids.slice(0, end);
  }
  const max = scaled(ids[0]);
  let sum = 0;
  const e = ids.map((i) => {
    const v = Math.exp(scaled(i) - max);
    sum += v;
    return v;
  });
  let out: Candidate[] = ids.map((id, j) => ({ id, p: e[j] / sum }));
  if (plan.topP < 1) {
    // Keep tokens while the mass before them is below p: the smallest prefix reaching p, and
    // always at least one token.
    let mass = 0;
    let end = 0;
    while (end < out.length && (end === 0 || mass < plan.topP)) mass += out[end++].p;
    out = out.slice(0, end);
    const kept = out.reduce((a, c) => a + c.p, 0);
    out = out.map((c) => ({ id: c.id, p: c.p / kept }));
  }
  return out;
}

/** A small seeded generator (SplitMix32): the same seed gives the same tokens everywhere. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let z = (this.state = (this.state + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  }
}

/** Draw one token from a distribution. */
export function drawToken(dist: Candidate[], rng: Rng): number {
  const u = rng.next();
  let acc = 0;
  for (const c of dist) {
    acc += c.p;
    if (u < acc) return c.id;
  }
  return dist[dist.length - 1].id;
}

/**
 * The next token from one row of logits (not modified): penalty over `seen`, then greedy or a
 * draw from the warped distribution.
 */
export function nextToken(logits: Float32Array, seen: readonly number[], plan: SamplingPlan, rng: Rng): number {
  const row = plan.repetitionPenalty !== 1 ? Float32Array.from(logits) : logits;
  applyRepetitionPenalty(row, seen, plan.repetitionPenalty);
  if (!plan.sample) return argmax(row);
  return drawToken(samplingDistribution(row, plan), rng);
}
