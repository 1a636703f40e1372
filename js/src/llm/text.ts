/**
 * Text in and out of a language model with the maintained Hugging Face libraries:
 * `@huggingface/tokenizers` for `tokenizer.json` and `@huggingface/jinja` for the chat template.
 * `TextDecoderStream`-like incremental decoding (`StreamingDetokenizer`) turns the growing list
 * of generated ids into text pieces without splitting a multi-byte character or a stop string.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { InvalidInputError, NoGenerationConfigError } from '../errors.js';
import type { GenerationConfig } from './config.js';

/** One chat turn. */
export interface ChatMessage {
  /** Who speaks: `system`, `user` or `assistant` (whatever the model's chat template knows). */
  role: string;
  /** What was said. */
  content: string;
}

/** Parse `tokenizer.json` (bytes, text or parsed object) into a `Tokenizer`. */
export function loadTokenizer(source: Uint8Array | string | object): Tokenizer {
  let json: unknown = source;
  try {
    if (source instanceof Uint8Array) json = new TextDecoder().decode(source);
    if (typeof json === 'string') json = JSON.parse(json);
    // The second argument stands for tokenizer_config.json; generation never needs its
    // decoding clean-up (off: it would rewrite " ." in generated text).
    return new Tokenizer(json as object, { clean_up_tokenization_spaces: false });
  } catch (e) {
    throw new NoGenerationConfigError(`tokenizer.json: ${(e as Error).message}`, { cause: e });
  }
}

/** The tokenizer and chat template of one model. */
export class ChatText {
  /** The Hugging Face tokenizer built from the model's `tokenizer.json`. */
  readonly tokenizer: Tokenizer;
  private readonly template: Template | undefined;
  private readonly specialTokens: Record<string, string>;

  constructor(tokenizer: Tokenizer, config: GenerationConfig) {
    this.tokenizer = tokenizer;
    this.specialTokens = config.specialTokens;
    try {
      this.template = config.chatTemplate === null ? undefined : new Template(config.chatTemplate);
    } catch (e) {
      throw new NoGenerationConfigError(`generation.json: chat_template does not parse: ${(e as Error).message}`, { cause: e });
    }
  }

  /** True when the model ships a chat template. */
  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  /**
   * The prompt text for `messages` through the model's chat template, ending with the
   * assistant's turn header when `addGenerationPrompt` (default true).
   */
  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt = true): string {
    if (!this.template) throw new NoGenerationConfigError('this model has no chat template (generation.json: chat_template is null); pass a plain prompt');
    if (!Array.isArray(messages) || messages.length === 0) throw new InvalidInputError('messages must be a non-empty array of {role, content}');
    for (const [i, m] of messages.entries()) {
      if (!m || typeof m !== 'object' || typeof m.role !== 'string' || typeof m.content !== 'string') {
        throw new InvalidInputError(`messages[${i}] must be {role: string, content: string}`);
      }
    }
    try {
      return this.template.render({
        ...this.specialTokens,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: addGenerationPrompt,
      });
    } catch (e) {
      throw new InvalidInputError(`the chat template failed on these messages: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Token ids of `text`; special tokens written in it (`<|im_start|>`) map to their ids. */
  encode(text: string, addSpecialTokens = false): number[] {
    if (typeof text !== 'string') throw new InvalidInputError('the prompt must be a string');
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  /** Text of `ids` (special tokens dropped unless `skipSpecialTokens` is false). */
  decode(ids: readonly number[], skipSpecialTokens = true): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: false });
  }
}

/**
 * Turns generated ids into text pieces as they come. Decodes the whole generated sequence each
 * time (byte-level BPE needs the neighbours to form a character) and hands out what is new,
 * holding back an incomplete UTF-8 character (decoded as U+FFFD at the end) and any tail that
 * could still become a stop string.
 */
export class StreamingDetokenizer {
  private ids: number[] = [];
  private emitted = 0;
  /** The final text once a stop string was found (cut before it). */
  stoppedText: string | undefined;

  constructor(
    private readonly text: ChatText,
    private readonly stops: readonly string[],
  ) {}

  /** Add one token; returns the new text piece (possibly empty). */
  push(id: number): string {
    this.ids.push(id);
    const full = this.text.decode(this.ids);
    let hit = -1;
    for (const s of this.stops) {
      const at = full.indexOf(s);
      if (at >= 0 && (hit < 0 || at < hit)) hit = at;
    }
    if (hit >= 0) {
      this.stoppedText = full.slice(0, hit);
      return this.take(this.stoppedText, this.stoppedText.length);
    }
    let safe = full.length;
    if (full.endsWith('\uFFFD')) safe = full.length - 1;
    safe -= this.partialStop(full.slice(0, safe));
    return this.take(full, safe);
  }

  /** The rest of the text at the end of generation (nothing is held back any more). */
  finish(): string {
    if (this.stoppedText !== undefined) return '';
    const full = this.text.decode(this.ids);
    return this.take(full, full.length);
  }

  /** Longest suffix of `s` that is a proper prefix of a stop string. */
  private partialStop(s: string): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, s.length); n > longest; n--) {
        if (s.endsWith(stop.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }

  private take(full: string, upTo: number): string {
    if (upTo <= this.emitted) return '';
    const piece = full.slice(this.emitted, upTo);
    this.emitted = upTo;
    return piece;
  }
}
