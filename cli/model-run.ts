/**
 * `moe model init` (write a deterministic random model of a preset or config)
 * and `moe model inspect` (architecture, config, tensors, parameter counts).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { accountModel, checkTensors, configFromGguf, f32Decimal, findModelFiles, findXaiCheckpoint, isGguf, loadConfigJson, openModel, parseModelConfig, PartReader, SplitGgufReader, XaiCheckpointReader, modelTensors, openWeights, presetConfig, type ModelConfig, type TensorInfo, type WeightReader } from "../model/index.js";
import { convertModel, type GenerateDType, type GenerateFormat, generateModel, sliceModel, type SlicePlan } from "../factory/index.js";


const fmt = (n: number) => n.toLocaleString("en-US");
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Role of a tensor by its canonical name (for parameter counts without a config). */
function roleOf(name: string): string {
  if (name === "token_embd.weight") return "embedding";
  if (name === "output.weight") return "output";
  if (name === "output_norm.weight") return "final_norm";
  if (/_exps\.weight$/.test(name)) return "expert";
  if (/\.ffn_gate_inp\.weight$/.test(name)) return "router";
  if (/norm\.weight$/.test(name)) return "norm";
  if (/\.attn_(q|k|v|qkv|output)\.weight$/.test(name)) return "attention";
  return "other";
}

interface Opened {
  reader: WeightReader & { fileSize: number };
  format: string;
  config?: ModelConfig;
  configSource?: string;
  configError?: string;
}

function open(path: string): Opened {
  const p = resolve(path);
  if (!existsSync(p)) throw new Error(`${p}: no such file or directory (pass a model directory, .gguf or .safetensors file)`);
  const isDir = statSync(p).isDirectory();
  if (isDir && findXaiCheckpoint(p)) return openXai(p);
  const files = isDir ? findModelFiles(p) : undefined;
  const weightsPath = files?.weights ?? p;
  const reader = openWeights(weightsPath);
  const format = isGguf(reader)
    ? `GGUF v${reader.version}${reader instanceof SplitGgufReader ? `, ${reader.splits.length} splits` : ""}${reader instanceof PartReader ? `, the part for host '${reader.host}' (${reader.storedTensors().length} of ${reader.tensors().length} tensors held)` : ""}`
    : "safetensors";
  const sibling = join(dirname(weightsPath), "config.json");
  const configPath = files?.config ?? (!isDir && extname(p).toLowerCase() === ".safetensors" && existsSync(sibling) ? sibling : undefined);
  try {
    if (configPath) return { reader, format, config: loadConfigJson(configPath), configSource: configPath };
    if (isGguf(reader)) return { reader, format, config: configFromGguf(reader), configSource: "GGUF metadata" };
    return { reader, format, configError: "safetensors carries no config and there is no config.json beside it" };
  } catch (e) {
    return { reader, format, configError: (e as Error).message };
  }
}

/** An xAI checkpoint directory: the config it loads with, or why none. */
function openXai(p: string): Opened {
  const reader = XaiCheckpointReader.open(p);
  const format = `xAI checkpoint (${reader.tensors().length} pickles in ${reader.file})`;
  try {
    const m = openModel(p);
    const config = m.config;
    m.close();
    return { reader, format, config, configSource: existsSync(join(p, "config.json")) ? join(p, "config.json") : "checkpoint shapes + Grok-1 constants" };
  } catch (e) {
    return { reader, format, configError: (e as Error).message };
  }
}

function inspect(path: string, json: boolean): void {
  const m = open(path);
  const r = m.reader;
  try {
    const arch = String(r.metadata.get("general.architecture") ?? (m.config ? "grok" : "unknown"));
    const roles = new Map<string, string>();
    if (m.config) for (const t of modelTensors(m.config)) roles.set(t.name, t.role);
    const perRole = new Map<string, number>();
    const tensors = r.tensors().map((t: TensorInfo) => {
      const role = roles.get(t.name) ?? roleOf(t.name);
      perRole.set(role, (perRole.get(role) ?? 0) + count(t.shape));
      return { name: t.name, shape: [...t.shape], dtype: t.dtype, bytes: t.byteLength, params: count(t.shape), role };
    });
    const total = tensors.reduce((a, t) => a + t.params, 0);
    let check = "no config to check against";
    if (m.config) {
      try {
        checkTensors(r, m.config, m.configSource);
        check = "ok: every tensor matches the config";
      } catch (e) {
        check = `MISMATCH: ${(e as Error).message}`;
      }
    }
    const experts = m.config ? { activePerToken: accountModel(m.config, "f32").activeParamsPerToken } : undefined;
    const splits = r instanceof SplitGgufReader ? r.splits : undefined;
    if (json) {
      const metadata = Object.fromEntries([...r.metadata].map(([k, v]) => [k, Array.isArray(v) && v.length > 16 ? summarize(v) : typeof v === "bigint" ? String(v) : v]));
      console.log(JSON.stringify({ file: r.file, format: m.format, fileBytes: r.fileSize, architecture: arch, ...(splits ? { splits } : {}), config: m.config ?? null, configSource: m.configSource, configError: m.configError, metadata, tensors, parameters: { ...Object.fromEntries(perRole), total, ...experts }, check }, null, 2));
      return;
    }
    console.log(`file:         ${r.file}`);
    console.log(`format:       ${m.format}, ${fmt(r.fileSize)} bytes`);
    console.log(`architecture: ${arch}`);
    if (splits) {
      console.log(`\nsplits (${splits.length}, gguf-split layout; metadata in the first):`);
      for (const s of splits) console.log(`  ${String(s.no + 1).padStart(5)}  ${s.file}  ${fmt(s.tensors)} tensors  ${fmt(s.bytes)} bytes`);
    }
    console.log(`\nmetadata (${r.metadata.size} keys):`);
    const types = new Map(isGguf(r) ? r.kv.map((k) => [k.key, k.arrayType ? `${k.arrayType}[]` : k.type]) : []);
    for (const [k, v] of r.metadata) console.log(`  ${k.padEnd(44)} ${(types.get(k) ?? "").padEnd(8)} ${summarize(v, types.get(k))}`);
    if (m.config) {
      console.log(`\nconfig (from ${m.configSource}):`);
      for (const [k, v] of Object.entries(m.config)) console.log(`  ${k.padEnd(16)} ${String(v)}`);
    } else console.log(`\nconfig: unavailable (${m.configError})`);
    console.log(`\ntensors (${tensors.length}):`);
    const w = Math.max(4, ...tensors.map((t) => t.name.length));
    console.log(`  ${"name".padEnd(w)}  ${"shape".padEnd(16)}  ${"dtype".padEnd(5)}  ${"bytes".padStart(13)}`);
    for (const t of tensors) console.log(`  ${t.name.padEnd(w)}  ${`[${t.shape.join(", ")}]`.padEnd(16)}  ${t.dtype.padEnd(5)}  ${fmt(t.bytes).padStart(13)}`);
    console.log(`\nparameters:`);
    const order = ["embedding", "output", "attention", "router", "expert", "norm", "final_norm", "other"];
    for (const [role, n] of [...perRole].sort((x, y) => order.indexOf(x[0]) - order.indexOf(y[0]))) console.log(`  ${role.padEnd(12)} ${fmt(n).padStart(16)}`);
    console.log(`  ${"total".padEnd(12)} ${fmt(total).padStart(16)}`);
    if (experts) console.log(`  ${"active/token".padEnd(12)} ${fmt(experts.activePerToken).padStart(16)}  (${m.config!.nExpertsUsed} of ${m.config!.nExperts} experts per layer)`);
    console.log(`\ncheck: ${check}`);
  } finally {
    r.close();
  }
}

/** Short printable form of a metadata value (long arrays summarised; f32 as its shortest decimal). */
function summarize(v: unknown, type?: string): string {
  const one = (x: unknown): string => {
    if (typeof x === "bigint") return String(x);
    if (typeof x === "number" && type?.startsWith("f32")) return String(f32Decimal(x));
    return typeof x === "string" ? JSON.stringify(x) : String(x);
  };
  if (Array.isArray(v)) return `[${v.length}] ${v.slice(0, 4).map(one).join(", ")}${v.length > 4 ? ", …" : ""}`;
  return one(v);
}

/** The action of `moe model init`. */
export const initAction = (o: { preset: string; out: string; config?: string; format: GenerateFormat; dtype: GenerateDType; seed: number; layers?: number; tokenizer?: string }) => {
  const base = o.config ? loadConfigJson(o.config) : presetConfig(o.preset);
  const config = o.layers === undefined || o.layers === base.nLayers ? base : parseModelConfig({ ...base, name: `${base.name}-${o.layers}L`, nLayers: o.layers }, "--layers");
  const t0 = Date.now();
  const progress = (name: string, i: number, n: number) => process.stderr.write(`\r  ${i + 1}/${n} ${name}`.padEnd(60));
  const tokenizerModel = o.tokenizer ? readFileSync(o.tokenizer) : undefined;
  const r = generateModel({ config, outDir: o.out, format: o.format, dtype: o.dtype, seed: o.seed, tokenizerModel, onTensor: process.stderr.isTTY ? progress : undefined });
  if (process.stderr.isTTY) process.stderr.write("\n");
  const w = openWeights(r.weightsPath);
  const params = w.tensors().reduce((a, t) => a + count(t.shape), 0);
  const bytes = w.fileSize;
  w.close();
  console.log(`wrote ${config.name} (${fmt(params)} parameters, ${o.format} ${o.dtype}, seed ${o.seed}) to ${r.dir} in ${Date.now() - t0} ms`);
  console.log(`  ${r.configPath}\n  ${r.weightsPath} (${fmt(bytes)} bytes)\n  ${r.tokenizerPath}`);
};

/** The action of `moe model convert`. */
export const convertAction = (o: { from: string; to: string; dtype: GenerateDType }) => {
  const t0 = Date.now();
  const r = convertModel({ from: o.from, to: o.to, dtype: o.dtype, onTensor: (name, i, n) => process.stderr.write(`\r  ${i + 1}/${n} ${name}`.padEnd(60)) });
  process.stderr.write("\n");
  console.log(`wrote ${r.to} (${fmt(r.bytes)} bytes, ${r.tensors} tensors, ${o.dtype}${r.vocab ? ", vocabulary embedded" : ", no vocabulary"}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`  ${r.copied.length} tensors copied byte for byte; ${r.reencoded.length} re-encoded with rounding${r.reencoded.length ? `: ${r.reencoded.slice(0, 4).join(", ")}${r.reencoded.length > 4 ? ", …" : ""}` : ""}`);
};

/** The action of `moe model slice`. */
export const sliceAction = (o: { plan: string; out: string; model?: string }) => {
  const plan = JSON.parse(readFileSync(o.plan, "utf8")) as SlicePlan & { model?: { source?: string } };
  const model = o.model ?? plan.model?.source;
  if (!model) throw new Error(`${o.plan}: names no model source; pass --model PATH`);
  const t0 = Date.now();
  const parts = sliceModel({ model, plan, outDir: o.out });
  const w = Math.max(...parts.map((p) => p.host.length));
  console.log(`sliced ${model} into ${parts.length} parts in ${((Date.now() - t0) / 1000).toFixed(1)} s:`);
  for (const p of parts) console.log(`  ${p.host.padEnd(w)}  ${p.file}  ${fmt(p.tensorBytes).padStart(15)} bytes of tensors  (${fmt(p.bytes)} bytes)`);
  console.log(`run it with: moe up CLUSTER.yaml --plan ${o.plan} --parts ${o.out}`);
};

/** The action of `moe model inspect`. */
export const inspectAction = (path: string, o: { json?: boolean }) => inspect(path, Boolean(o.json));
