/** Grouping of a message's rows into per-sequence runs (pure). */

/** A run of consecutive rows of one sequence at consecutive positions. */
export interface RowGroup {
  readonly seq: number;
  /** Index of the group's first row in the message. */
  readonly start: number;
  readonly count: number;
  readonly firstPos: number;
  readonly lastPos: number;
}

/**
 * Split rows (seq, pos) into per-sequence groups. Each sequence's rows must be
 * contiguous with consecutive positions, and a sequence may appear once.
 * @throws Error naming the row that breaks the rule
 */
export function groupRows(seq: Uint32Array, pos: Uint32Array): RowGroup[] {
  const groups: RowGroup[] = [];
  const seen = new Set<number>();
  let i = 0;
  while (i < seq.length) {
    const s = seq[i]!;
    if (seen.has(s)) throw Object.assign(new Error(`row ${i}: sequence ${s} appears in two separate runs of one message`), { code: "BAD_ROWS" });
    seen.add(s);
    let j = i + 1;
    while (j < seq.length && seq[j] === s) {
      if (pos[j] !== pos[j - 1]! + 1) throw Object.assign(new Error(`row ${j}: sequence ${s} position ${pos[j]} does not follow ${pos[j - 1]}`), { code: "BAD_ROWS" });
      j++;
    }
    groups.push({ seq: s, start: i, count: j - i, firstPos: pos[i]!, lastPos: pos[j - 1]! });
    i = j;
  }
  return groups;
}
