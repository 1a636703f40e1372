/**
 * BERT's uncased WordPiece tokenizer (as used by all-MiniLM-L6-v2), so sentence models run in
 * the browser without extra dependencies. Steps follow BERT's reference tokenizer: clean the
 * text, split CJK characters, lower-case and strip accents, split on whitespace and
 * punctuation, then greedy longest-match-first WordPiece with `##` continuations.
 * `js/test/wordpiece.test.mjs` checks it against the Hugging Face `tokenizers` output.
 */

/** Output of `encode`: ids and mask padded/truncated to `length`, as BigInt64Arrays. */
export interface Encoded {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokens: string[];
}

function isWhitespace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || /\p{Zs}/u.test(c);
}
function isControl(c: string): boolean {
  if (c === '\t' || c === '\n' || c === '\r') return false;
  return /\p{Cc}|\p{Cf}/u.test(c);
}
function isPunctuation(c: string): boolean {
  const cp = c.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(c);
}
function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** A WordPiece vocabulary and the BERT pre-tokenizer. */
export class WordPieceTokenizer {
  private readonly vocab = new Map<string, number>();
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;

  /** @param vocabText the contents of `vocab.txt` (one token per line; id = line number) */
  constructor(vocabText: string) {
    vocabText.split('\n').forEach((line, i) => {
      const tok = line.replace(/\r$/, '');
      if (tok.length && !this.vocab.has(tok)) this.vocab.set(tok, i);
    });
    const need = (t: string) => {
      const id = this.vocab.get(t);
      if (id === undefined) throw new Error(`vocabulary lacks ${t}`);
      return id;
    };
    this.clsId = need('[CLS]');
    this.sepId = need('[SEP]');
    this.padId = need('[PAD]');
    this.unkId = need('[UNK]');
  }

  /** Basic tokenization: words and punctuation marks, lower-cased, accents removed. */
  basic(text: string): string[] {
    let cleaned = '';
    for (const c of text) {
      const cp = c.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(c)) continue;
      if (isCjk(cp)) cleaned += ` ${c} `;
      else cleaned += isWhitespace(c) ? ' ' : c;
    }
    const out: string[] = [];
    for (const word of cleaned.trim().split(/ +/)) {
      if (!word) continue;
      const norm = word.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
      let cur = '';
      for (const c of norm) {
        if (isPunctuation(c)) {
          if (cur) out.push(cur);
          out.push(c);
          cur = '';
        } else cur += c;
      }
      if (cur) out.push(cur);
    }
    return out;
  }

  /** WordPiece of one basic token. */
  wordpiece(word: string): string[] {
    const chars = [...word];
    if (chars.length > 100) return ['[UNK]'];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        if (this.vocab.has(sub)) {
          found = sub;
          break;
        }
        end--;
      }
      if (found === undefined) return ['[UNK]'];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  /** Tokens of `text` without special tokens. */
  tokenize(text: string): string[] {
    return this.basic(text).flatMap((w) => this.wordpiece(w));
  }

  /** `[CLS] tokens [SEP]`, truncated/padded to `length`. */
  encode(text: string, length: number): Encoded {
    const toks = this.tokenize(text).slice(0, Math.max(0, length - 2));
    const tokens = ['[CLS]', ...toks, '[SEP]'];
    const inputIds = new BigInt64Array(length).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(length);
    tokens.forEach((t, i) => {
      inputIds[i] = BigInt(this.vocab.get(t) ?? this.unkId);
      attentionMask[i] = 1n;
    });
    return { inputIds, attentionMask, tokens };
  }
}
