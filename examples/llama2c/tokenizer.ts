/**
 * The llama2.c tokenizer: its file format and its encoding, written for this example.
 *
 * File (little-endian): int32 max_token_length, then for each of vocab_size entries
 * { float32 score, int32 byte length, that many bytes of UTF-8 }.
 * The vocabulary size is not stored; it comes from the model header.
 *
 * Encoding (the algorithm of llama2.c's `encode`): optional BOS; a dummy-prefix " " when the text is
 * not empty; each Unicode code point becomes its own token when the vocabulary has it, otherwise one
 * byte-fallback token `<0xNN>` (id = byte + 3) per UTF-8 byte; then, repeatedly, the adjacent pair whose
 * concatenation is in the vocabulary with the highest score is merged (ties: the leftmost pair), until
 * no pair merges. llama2.c rescans the whole sequence per merge (quadratic); here a heap of candidate
 * pairs over a linked list gives the same merges in O(n log n), which matters for 1 MB texts.
 */
import { readFileSync } from 'node:fs';

import { ExampleError } from './errors.js';

export const UNK_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
/** Byte-fallback tokens: id = byte + BYTE_FALLBACK_OFFSET. */
export const BYTE_FALLBACK_OFFSET = 3;

const BYTE_PIECE = /^<0x([0-9A-F]{2})>$/;

export interface EncodeOptions {
  bos?: boolean;
  eos?: boolean;
}

export class Tokenizer {
  readonly vocabSize: number;
  readonly maxTokenLength: number;
  /** Raw bytes of each piece; pieces are compared as byte strings, as in llama2.c. */
  readonly pieceBytes: readonly Uint8Array[];
  readonly pieces: readonly string[];
  readonly scores: Float32Array;
  private readonly idOf: Map<string, number>;
  /** Each piece's bytes as a latin1 string: the lookup key for pieces and their concatenations. */
  private readonly keys: string[];
  /** For each id, the raw byte it stands for when it is a `<0xNN>` piece, else -1. */
  private readonly rawByte: Int16Array;

  private constructor(maxTokenLength: number, pieceBytes: Uint8Array[], scores: Float32Array) {
    this.vocabSize = pieceBytes.length;
    this.maxTokenLength = maxTokenLength;
    this.pieceBytes = pieceBytes;
    this.scores = scores;
    // latin1 keeps a 1:1 map from bytes to string code units, so concatenating two keys equals the key of
    // the concatenated bytes even when a piece is not valid UTF-8 on its own.
    const keys = pieceBytes.map((b) => Buffer.from(b).toString('latin1'));
    this.keys = keys;
    this.pieces = pieceBytes.map((b) => Buffer.from(b).toString('utf8'));
    this.idOf = new Map();
    keys.forEach((key, id) => {
      if (!this.idOf.has(key)) this.idOf.set(key, id); // first id wins on a (never seen) duplicate
    });
    this.rawByte = new Int16Array(this.vocabSize).fill(-1);
    this.pieces.forEach((piece, id) => {
      const m = BYTE_PIECE.exec(piece);
      if (m) this.rawByte[id] = parseInt(m[1], 16);
    });
  }

  /** Parse a tokenizer held in memory. `source` names it in error messages. */
  static parse(bytes: Uint8Array, vocabSize: number, source = 'tokenizer'): Tokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize < BYTE_FALLBACK_OFFSET + 256) {
      throw new ExampleError('E_BAD_ARGUMENT',
        `${source}: vocabSize is ${vocabSize}; expected an integer of at least ${BYTE_FALLBACK_OFFSET + 256} ` +
        '(3 special tokens and 256 byte-fallback tokens)');
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const need = (offset: number, count: number, what: string) => {
      if (offset + count > bytes.byteLength) {
        throw new ExampleError('E_TOKENIZER_TRUNCATED',
          `${source}: file ends at byte ${bytes.byteLength} inside ${what}; expected ${offset + count - bytes.byteLength} more bytes ` +
          `(a file for ${vocabSize} tokens)`);
      }
    };
    need(0, 4, 'the max_token_length header');
    const maxTokenLength = view.getInt32(0, true);
    if (maxTokenLength <= 0 || maxTokenLength > 1024) {
      throw new ExampleError('E_TOKENIZER_MALFORMED',
        `${source}: max_token_length is ${maxTokenLength}; expected 1..1024 (is this a llama2.c tokenizer.bin?)`);
    }
    const pieceBytes: Uint8Array[] = [];
    const scores = new Float32Array(vocabSize);
    let offset = 4;
    for (let id = 0; id < vocabSize; id++) {
      need(offset, 8, `the score and length of token ${id}`);
      scores[id] = view.getFloat32(offset, true);
      const length = view.getInt32(offset + 4, true);
      offset += 8;
      if (length < 0 || length > maxTokenLength) {
        throw new ExampleError('E_TOKENIZER_MALFORMED',
          `${source}: token ${id} has byte length ${length}; expected 0..${maxTokenLength} (max_token_length)`);
      }
      if (!Number.isFinite(scores[id])) {
        throw new ExampleError('E_TOKENIZER_MALFORMED', `${source}: token ${id} has score ${scores[id]}; expected a finite float`);
      }
      need(offset, length, `the bytes of token ${id}`);
      pieceBytes.push(Uint8Array.prototype.slice.call(bytes, offset, offset + length));
      offset += length;
    }
    if (offset !== bytes.byteLength) {
      throw new ExampleError('E_TOKENIZER_MALFORMED',
        `${source}: ${bytes.byteLength - offset} bytes follow the ${vocabSize} tokens; expected the file to end there ` +
        '(does the vocabulary size match the model?)');
    }
    const tokenizer = new Tokenizer(maxTokenLength, pieceBytes, scores);
    for (let b = 0; b < 256; b++) {
      const expected = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      if (tokenizer.pieces[b + BYTE_FALLBACK_OFFSET] !== expected) {
        throw new ExampleError('E_TOKENIZER_MALFORMED',
          `${source}: token ${b + BYTE_FALLBACK_OFFSET} is ${JSON.stringify(tokenizer.pieces[b + BYTE_FALLBACK_OFFSET])}; ` +
          `expected the byte-fallback piece ${expected}`);
      }
    }
    return tokenizer;
  }

  static load(path: string, vocabSize: number): Tokenizer {
    return Tokenizer.parse(readFileSync(path), vocabSize, path);
  }

  /** Token ids of `text`, as llama2.c's `encode` computes them. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    if (options.bos) ids.push(BOS_ID);
    if (text.length > 0) {
      const space = this.idOf.get(' ');
      if (space === undefined) {
        throw new ExampleError('E_TOKENIZER_MALFORMED', 'the vocabulary has no " " piece; expected one for the dummy prefix');
      }
      ids.push(space);
    }
    for (const codePoint of text) { // iterates code points, not UTF-16 units
      const utf8 = Buffer.from(codePoint, 'utf8');
      const id = this.idOf.get(utf8.toString('latin1'));
      if (id !== undefined) {
        ids.push(id);
      } else {
        for (const byte of utf8) ids.push(byte + BYTE_FALLBACK_OFFSET);
      }
    }
    const merged = this.mergePairs(ids);
    if (options.eos) merged.push(EOS_ID);
    return merged;
  }

  /**
   * Apply llama2.c's merge rule: always the highest-scoring mergeable adjacent pair, the leftmost one on
   * a tie. Nodes form a linked list in original order, so a node's original index orders pairs the way
   * llama2.c's array index does. Heap entries go stale when a neighbour merges; they are checked on pop.
   */
  private mergePairs(initial: number[]): number[] {
    const n = initial.length;
    const id = Int32Array.from(initial);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new PairHeap();
    const consider = (left: number) => {
      const right = next[left];
      if (right < 0) return;
      const merged = this.idOf.get(this.keys[id[left]] + this.keys[id[right]]);
      if (merged !== undefined) heap.push(this.scores[merged], left, id[left], id[right], merged);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.size > 0) {
      const top = heap.pop();
      const right = next[top.left];
      // Stale if the left node died (id[left] = -1), changed, or its right neighbour changed.
      if (id[top.left] !== top.leftId || right < 0 || id[right] !== top.rightId) continue;
      id[top.left] = top.merged;
      id[right] = -1;
      next[top.left] = next[right];
      if (next[right] >= 0) prev[next[right]] = top.left;
      if (prev[top.left] >= 0) consider(prev[top.left]);
      consider(top.left);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0 && n > 0; i = next[i]) out.push(id[i]);
    return out;
  }

  /**
   * Bytes that token `token` prints after `prevToken`, as llama2.c's `decode`: the leading space of the
   * first piece after BOS is dropped (it is the dummy prefix) and `<0xNN>` pieces print the raw byte.
   */
  pieceOutput(prevToken: number, token: number): Uint8Array {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocabSize) {
      throw new ExampleError('E_BAD_ARGUMENT', `token id ${token} is out of range; expected an integer in 0..${this.vocabSize - 1}`);
    }
    if (this.rawByte[token] >= 0) return Uint8Array.of(this.rawByte[token]);
    const bytes = this.pieceBytes[token];
    if (prevToken === BOS_ID && bytes[0] === 0x20) return bytes.subarray(1);
    return bytes;
  }

  /** Text of a token sequence; a leading BOS (or `prevToken` = BOS) drops the dummy-prefix space. */
  decode(tokens: readonly number[], prevToken = -1): string {
    const stream = new TokenTextStream(this);
    let text = '';
    let prev = prevToken;
    for (const token of tokens) {
      if (token !== BOS_ID && token !== EOS_ID) text += stream.push(prev, token);
      prev = token;
    }
    return text + stream.flush();
  }
}

/**
 * Turns a stream of tokens into text, holding back incomplete UTF-8 sequences (a multi-byte character
 * split over byte-fallback tokens) until their last byte arrives.
 */
export class TokenTextStream {
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly tokenizer: Tokenizer) {}

  push(prevToken: number, token: number): string {
    return this.decoder.decode(this.tokenizer.pieceOutput(prevToken, token), { stream: true });
  }

  flush(): string {
    return this.decoder.decode();
  }
}

interface PairEntry {
  score: number;
  left: number;
  leftId: number;
  rightId: number;
  merged: number;
}

/** Binary max-heap on (score, then smaller left index). */
class PairHeap {
  private readonly items: PairEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  push(score: number, left: number, leftId: number, rightId: number, merged: number): void {
    const items = this.items;
    items.push({ score, left, leftId, rightId, merged });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!PairHeap.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): PairEntry {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && PairHeap.before(items[l], items[best])) best = l;
        if (r < items.length && PairHeap.before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }

  private static before(a: PairEntry, b: PairEntry): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }
}
