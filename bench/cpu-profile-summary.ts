/**
 * Summarise V8 CPU profiles (`.cpuprofile`, e.g. written by the `moe` processes of a cluster run with
 * `MOE_CPU_PROF=DIR`): busy and idle ms, the functions with the most self time, and time spent under
 * each source file (inclusive). Usage: `npx tsx bench/cpu-profile-summary.ts FILE... [--top N]`.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const short = (url: string): string => url.replace(/.*\/(dist|node_modules)\//, "$1/");

/** Print one profile's summary: self time by function, inclusive time by file (µs in the file → ms). */
export function summarise(file: string, top: number): string[] {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const sampled = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    sampled.set(id, (sampled.get(id) ?? 0) + dt);
    total += dt;
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  for (const [id, t] of sampled) {
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === "(idle)") idle += t;
    const key = `${cf.functionName || "(anonymous)"} ${short(cf.url)}:${cf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const k = short(n.callFrame.url).replace(/^(node_modules\/[^/]+).*/, "$1") || n.callFrame.functionName;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
  }
  const busy = total - idle;
  const rows = (m: Map<string, number>): string[] =>
    [...m]
      .filter(([k]) => k !== "(idle)" && !k.startsWith("(idle)") && k !== "(root)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => `${(t / 1e3).toFixed(1).padStart(9)} ms ${((100 * t) / busy).toFixed(1).padStart(5)} %  ${k}`);
  return [`${file}: ${(total / 1e3).toFixed(0)} ms sampled, ${(busy / 1e3).toFixed(0)} ms busy, ${(idle / 1e3).toFixed(0)} ms idle`, "self time (of busy):", ...rows(self), "inclusive, by source file:", ...rows(inclusive), ""];
}

const args = process.argv.slice(2);
const at = args.indexOf("--top");
const top = at >= 0 ? Number(args.splice(at, 2)[1]) : 20;
for (const f of args) process.stdout.write(summarise(f, top).join("\n") + "\n");
