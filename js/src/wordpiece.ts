/**
 * BERT's uncased WordPiece tokenizer (as used by all-MiniLM-L6-v2) for sentence models, on
 * Hugging Face's `@huggingface/tokenizers`: the tokenization itself (BERT normalizer and
 * pre-tokenizer, greedy longest-match WordPiece with `##` continuations) is the library's.
 * This module only adds the fixed-length encoding the exported models take (`[CLS] … [SEP]`,
 * truncated and padded to the model's sequence length, as BigInt64Arrays).
 * `js/test/wordpiece.test.mjs` checks the ids against the Python `tokenizers` output.
 */
import { Tokenizer } from '@huggingface/tokenizers';

/** Output of `encode`: ids and mask padded/truncated to `length`, as BigInt64Arrays. */
export interface Encoded {
  /** Token ids: `[CLS]`, the text's pieces, `[SEP]`, then `[PAD]` up to the length. */
  inputIds: BigInt64Array;
  /** 1 for each real token (including `[CLS]` and `[SEP]`), 0 for padding. */
  attentionMask: BigInt64Array;
  /** The token strings of the ids before padding, for display and debugging. */
  tokens: string[];
}

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

/**
 * The `tokenizer.json` of BERT uncased for a `vocab.txt` (one token per line, id = line):
 * what `BertTokenizerFast(vocab, do_lower_case=True)` saves.
 */
export function bertUncasedTokenizerJson(vocabText: string): object {
  const vocab: Record<string, number> = {};
  vocabText.split('\n').forEach((line, i) => {
    const tok = line.replace(/\r$/, '');
    if (tok.length && !(tok in vocab)) vocab[tok] = i;
  });
  for (const t of ['[CLS]', '[SEP]', '[PAD]', '[UNK]']) if (!(t in vocab)) throw new Error(`vocabulary lacks ${t}`);
  return {
    version: '1.0',
    added_tokens: SPECIAL.filter((t) => t in vocab).map((content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/** A WordPiece vocabulary with the BERT normalizer and pre-tokenizer. */
export class WordPieceTokenizer {
  /** The library tokenizer doing the work. */
  readonly tokenizer: Tokenizer;
  /** The id of `[CLS]`, which starts every encoded sequence. */
  readonly clsId: number;
  /** The id of `[SEP]`, which ends the text in an encoded sequence. */
  readonly sepId: number;
  /** The id of `[PAD]`, which fills an encoded sequence up to its length. */
  readonly padId: number;
  /** The id of `[UNK]`, given to words the vocabulary cannot split into pieces. */
  readonly unkId: number;

  /**
   * @param source the contents of `vocab.txt` (BERT uncased settings), or a model's
   *   `tokenizer.json` as an object (its own normalizer and pre-tokenizer settings)
   */
  constructor(source: string | object) {
    const json = typeof source === 'string' ? bertUncasedTokenizerJson(source) : source;
    this.tokenizer = new Tokenizer(json, {});
    const need = (t: string) => {
      const id = this.tokenizer.token_to_id(t);
      if (id === undefined) throw new Error(`vocabulary lacks ${t}`);
      return id;
    };
    this.clsId = need('[CLS]');
    this.sepId = need('[SEP]');
    this.padId = need('[PAD]');
    this.unkId = need('[UNK]');
  }

  /** Tokens of `text` without special tokens. */
  tokenize(text: string): string[] {
    return this.tokenizer.tokenize(text, { add_special_tokens: false });
  }

  /** `[CLS] tokens [SEP]`, truncated/padded to `length`. */
  encode(text: string, length: number): Encoded {
    const enc = this.tokenizer.encode(text, { add_special_tokens: false });
    const keep = Math.max(0, length - 2);
    const ids = [this.clsId, ...enc.ids.slice(0, keep), this.sepId];
    const tokens = ['[CLS]', ...enc.tokens.slice(0, keep), '[SEP]'];
    const inputIds = new BigInt64Array(length).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(length);
    ids.slice(0, length).forEach((id, i) => {
      inputIds[i] = BigInt(id);
      attentionMask[i] = 1n;
    });
    return { inputIds, attentionMask, tokens };
  }
}
