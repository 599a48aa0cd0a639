/** A fixed engine workload whose results two engine configurations must agree on bit for bit (test helper). */
import { stepRows, type Engine, type RowItem } from "../../model/index.js";

/**
 * Logits of a prompt (every position) and of 3 decode rows, for one sequence; then greedy tokens of a
 * batch of 3 sequences (prefill and 4 decode steps). `vocab` bounds the prompt's token ids.
 */
export async function engineTrace(e: Engine, vocab: number): Promise<{ logits: number[][]; tokens: number[][] }> {
  const prompt = (b: number) => Array.from({ length: 20 + b * 7 }, (_, i) => 4 + ((b * 31 + i * 7919) % (vocab - 4)));
  const seq = e.newSequence();
  const logits = [Array.from(await e.forward([{ seq, tokens: prompt(0) }], { allPositions: true }))];
  for (const t of [5, 9, 11]) logits.push(Array.from(await e.forward([{ seq, tokens: [t] }])));
  e.release(seq);
  const seqs = [1, 2, 3];
  const last = new Map<number, number>();
  const tokens: number[][] = [];
  const run = async (items: RowItem[]) => {
    const out = await e.step(stepRows(items));
    for (const s of out.sampled ?? []) last.set(s.seq, s.token);
    tokens.push(seqs.map((s) => last.get(s)!));
  };
  await run(seqs.map((s, b) => ({ seq: s, pos: 0, tokens: prompt(b), prompt: true })));
  for (let k = 0; k < 4; k++) await run(seqs.map((s, b) => ({ seq: s, pos: prompt(b).length + k, tokens: [last.get(s)!] })));
  e.core.release(seqs);
  return { logits, tokens };
}
