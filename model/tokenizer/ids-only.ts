/**
 * The tokenizer of a model file without a usable vocabulary: token ids pass
 * through (prompts given as ids, generated ids), text cannot be encoded (the
 * error says why and what to do) and decodes to nothing.
 */
import { TokenizerError } from "../errors.js";
import type { Tokenizer, TokenizerSource } from "./types.js";

export class IdsOnlyTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly addBos = false;
  /** Why there is no vocabulary. */
  readonly reason: string;

  constructor(source: Extract<TokenizerSource, { kind: "none" }>) {
    this.vocabSize = source.vocabSize;
    this.bosId = source.bosId;
    this.eosId = source.eosId;
    this.reason = source.reason;
  }

  encode(): number[] {
    throw new TokenizerError(`this model has no usable tokenizer: ${this.reason}`, {
      fix: "give the prompt as token ids (--prompt-ids, or a token-id array in the API), or use a model directory with tokenizer.model",
    });
  }

  decode(): string {
    return "";
  }

  idToPiece(id: number): string {
    return `<${id}>`;
  }
}
