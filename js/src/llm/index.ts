/**
 * `wasm-torch/llm`: text generation with decoder LMs exported with a KV cache (session state).
 * Tokenizer and chat template come from the model's assets (`tokenizer.json`,
 * `generation.json`) through `@huggingface/tokenizers` and `@huggingface/jinja`. A separate
 * entry point so the core package keeps no dependencies.
 */
export { TextGenerator } from './generator.js';
export type {
  GenerativeSession,
  TextGeneratorOptions,
  GenerateOptions,
  GenerationChunk,
  GenerationResult,
  GenerationStats,
  GenerationInput,
  FinishReason,
} from './generator.js';
export { parseGenerationConfig, GENERATION_FORMAT } from './config.js';
export type { GenerationConfig } from './config.js';
export { ChatText, StreamingDetokenizer, loadTokenizer } from './text.js';
export type { ChatMessage } from './text.js';
export { planSampling, applyRepetitionPenalty, samplingDistribution, argmax, drawToken, nextToken, Rng } from './sampling.js';
export type { SamplingOptions, SamplingPlan, Candidate } from './sampling.js';
export { PromptTooLongError, NoStateError, NoGenerationConfigError, BusyError, AbortError } from '../errors.js';
