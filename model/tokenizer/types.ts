/** Tokenizer contracts shared by the engine, the gateway and the load tester. */

/** SentencePiece piece types (sentencepiece_model.proto / GGUF `tokenizer.ggml.token_type`). */
export const PieceType = Object.freeze({ NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 });

/** Where a model's tokenizer comes from: a `tokenizer.model` file, or a GGUF's embedded vocabulary. */
export type TokenizerSource =
  | {
      readonly kind: "spm-file";
      readonly path: string;
      /** Prepend BOS when encoding text (a model directory's `config.json` `addBos`); default false, as xAI's runner. */
      readonly addBos?: boolean;
    }
  | {
      readonly kind: "gguf-vocab";
      /** GGUF file the vocabulary came from (for errors). */
      readonly file: string;
      readonly tokens: readonly string[];
      readonly scores: readonly number[];
      /** PieceType per token. */
      readonly types: readonly number[];
      readonly bosId: number;
      readonly eosId: number;
      readonly unkId: number;
      readonly padId: number;
      readonly addBos: boolean;
    }
  | {
      /** The model file carries no usable vocabulary: token ids still work (`--prompt-ids`), text does not. */
      readonly kind: "none";
      /** Why, for the error a text prompt gets. */
      readonly reason: string;
      readonly vocabSize: number;
      readonly bosId: number;
      readonly eosId: number;
    };

/** Text ↔ token ids. */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  /** Whether `encode` prepends BOS by default (GGUF `tokenizer.ggml.add_bos_token`; false for xAI's tokenizer.model). */
  readonly addBos: boolean;
  /** Token ids of `text`; `addBos` overrides the default. */
  encode(text: string, opts?: { addBos?: boolean }): number[];
  /** Text of `ids` (control tokens dropped, byte pieces joined into UTF-8). */
  decode(ids: readonly number[]): string;
  /** The piece string of one id. */
  idToPiece(id: number): string;
}
