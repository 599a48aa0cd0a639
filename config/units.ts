/**
 * Quantities with units, as written in cluster files: sizes ("80GB", "80GiB"),
 * rates ("3.35TB/s", "100Gbit/s", "25Gbps"), compute ("989TFLOP/s", "1979TOPS")
 * and times ("5us", "0.5ms"). Plain numbers are taken in the base unit
 * (bytes, bytes/s, FLOP/s, seconds).
 */

/** What a field measures; decides which units it accepts. */
export type QuantityKind = "bytes" | "bytesPerSecond" | "flopsPerSecond" | "seconds";

const DECIMAL: Readonly<Record<string, number>> = { "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
/** Time units as divisors of seconds (division keeps "30us" exactly 3e-5). */
const TIME_DIV: Readonly<Record<string, number>> = { ns: 1e9, us: 1e6, "µs": 1e6, "μs": 1e6, ms: 1e3, s: 1, min: 1 / 60 };

const EXAMPLES: Readonly<Record<QuantityKind, string>> = {
  bytes: "80GB, 80GiB, 512MiB or a number of bytes",
  bytesPerSecond: "3.35TB/s, 900GB/s, 100Gbit/s, 25Gbps or a number of bytes/s",
  flopsPerSecond: "989TFLOP/s, 989TFLOPS, 1979TOPS or a number of FLOP/s",
  seconds: "5us, 0.5ms, 2s or a number of seconds",
};

const NUMBER = /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$/;

/** Multiplier of a data unit ("GB", "GiB", "Gbit", "Gb"), in bytes; undefined if not one. */
function dataUnit(u: string): number | undefined {
  const m = /^(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?(B|b|bit|bits|byte|bytes)?$/.exec(u);
  if (!m || (m[1] === undefined && m[2] === undefined)) return undefined;
  const prefix = m[1] ?? "";
  const scale = BINARY[prefix] ?? DECIMAL[prefix]!;
  const unit = m[2] ?? "B";
  return unit === "b" || unit === "bit" || unit === "bits" ? scale / 8 : scale;
}

function unitFactor(unit: string, kind: QuantityKind): number | undefined {
  if (unit === "") return 1;
  switch (kind) {
    case "bytes":
      return dataUnit(unit);
    case "bytesPerSecond": {
      const m = /^(.*?)(\/s|ps)$/.exec(unit);
      return m ? dataUnit(m[1]!) : undefined;
    }
    case "flopsPerSecond": {
      const m = /^(k|K|M|G|T|P)?(FLOP\/s|FLOPS|FLOPs|flop\/s|flops|OP\/s|OPS|OPs|ops|op\/s)$/.exec(unit);
      return m ? DECIMAL[m[1] ?? ""] : undefined;
    }
    case "seconds":
      return TIME_DIV[unit] === undefined ? undefined : 1 / TIME_DIV[unit]!;
  }
}

/**
 * Parse a quantity. Returns the value in the base unit of `kind`, or throws an
 * `Error` whose message says what was expected (callers add the field path).
 */
export function parseQuantity(input: number | string, kind: QuantityKind): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) throw new Error(`expected a non-negative number, got ${input}`);
    return input;
  }
  const m = NUMBER.exec(input);
  const factor = m ? unitFactor(m[2]!, kind) : undefined;
  if (!m || factor === undefined) throw new Error(`cannot read '${input}' as ${kindWord(kind)} (e.g. ${EXAMPLES[kind]})`);
  const div = kind === "seconds" ? TIME_DIV[m[2]!] : undefined;
  const v = div !== undefined ? Number(m[1]) / div : Number(m[1]) * factor;
  if (!Number.isFinite(v) || v < 0) throw new Error(`'${input}' must be a non-negative ${kindWord(kind)}`);
  return v;
}

function kindWord(kind: QuantityKind): string {
  return { bytes: "a size", bytesPerSecond: "a bandwidth", flopsPerSecond: "a compute rate", seconds: "a time" }[kind];
}
