/**
 * A minimal reader for the vocabulary of a SentencePiece .model file, written for the tokenizer test.
 * The file is a protobuf ModelProto whose field 1 is `repeated SentencePiece pieces`, each with
 * field 1 `string piece`, field 2 `float score`, field 3 `Type type` (1 normal, 2 unknown, 3 control,
 * 6 byte). Other fields (trainer and normalizer specs) are skipped by wire type.
 */
export interface SentencePieceEntry {
  piece: string;
  score: number;
  type: number;
}

export function readSentencePieceVocab(bytes: Uint8Array): SentencePieceEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pieces: SentencePieceEntry[] = [];

  const readVarint = (state: { pos: number }): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (state.pos >= bytes.length) throw new Error('truncated varint in .model file');
      const b = bytes[state.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  };

  /** Calls onField(field, wireType, state) for each field in [start, end); it must consume the value. */
  const walk = (start: number, end: number, onField: (field: number, wire: number, s: { pos: number }) => boolean) => {
    const state = { pos: start };
    while (state.pos < end) {
      const key = readVarint(state);
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (onField(field, wire, state)) continue;
      if (wire === 0) readVarint(state);
      else if (wire === 1) state.pos += 8;
      else if (wire === 2) {
        const length = readVarint(state); // read before adding: `pos += f()` would add to the old pos
        state.pos += length;
      }
      else if (wire === 5) state.pos += 4;
      else throw new Error(`unsupported protobuf wire type ${wire} at byte ${state.pos}`);
    }
  };

  walk(0, bytes.length, (field, wire, state) => {
    if (field !== 1 || wire !== 2) return false;
    const length = readVarint(state);
    const entry: SentencePieceEntry = { piece: '', score: 0, type: 1 }; // proto defaults
    walk(state.pos, state.pos + length, (f, w, s) => {
      if (f === 1 && w === 2) {
        const n = readVarint(s);
        entry.piece = Buffer.from(bytes.subarray(s.pos, s.pos + n)).toString('utf8');
        s.pos += n;
        return true;
      }
      if (f === 2 && w === 5) {
        entry.score = view.getFloat32(s.pos, true);
        s.pos += 4;
        return true;
      }
      if (f === 3 && w === 0) {
        entry.type = readVarint(s);
        return true;
      }
      return false;
    });
    state.pos += length;
    pieces.push(entry);
    return true;
  });
  return pieces;
}
