/** Worker thread of the {@link TokenizePool}: loads the model's tokenizer once and encodes texts on request. */
import { parentPort, workerData } from "node:worker_threads";
import { loadTokenizer, type TokenizerSource } from "../model/index.js";

const port = parentPort!;
const tokenizer = await loadTokenizer((workerData as { source: TokenizerSource }).source);
port.on("message", (m: { id: number; text: string }) => {
  try {
    port.postMessage({ id: m.id, ids: tokenizer.encode(m.text) });
  } catch (e) {
    port.postMessage({ id: m.id, error: (e as Error).message });
  }
});
port.postMessage({ ready: true });
