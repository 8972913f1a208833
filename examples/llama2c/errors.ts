/**
 * Typed errors of the llama2.c example.
 *
 * Every error carries a stable `code` (tests and callers branch on it, never on the message) and a
 * message that says what was wrong and what was expected, in the library's style.
 */
export type ExampleErrorCode =
  | 'E_CHECKPOINT_TRUNCATED'
  | 'E_CHECKPOINT_MALFORMED'
  | 'E_TOKENIZER_TRUNCATED'
  | 'E_TOKENIZER_MALFORMED'
  | 'E_BAD_ARGUMENT'
  | 'E_LAYERS_UNAVAILABLE'
  | 'E_ASSET_MISSING';

export class ExampleError extends Error {
  readonly code: ExampleErrorCode;

  constructor(code: ExampleErrorCode, message: string) {
    super(message);
    this.name = 'ExampleError';
    this.code = code;
  }
}
