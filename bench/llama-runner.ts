/**
 * llama.cpp through node-llama-cpp (its prebuilt CPU binary: `gpu: false`, `build: "never"`), measured the
 * way bench/engine measures this project's engine: prefill a prompt at batch 1 (one sequence), then greedy
 * decode steps. One model, one context per thread count (`threads` sets both of llama.cpp's thread
 * settings, n_threads and n_threads_batch). Runs in bench/llama-child (its own process) or in-process.
 */
import { pathToFileURL } from "node:url";

/** The few node-llama-cpp calls used here (its types are not part of the project's install). */
interface NodeLlamaCpp {
  getLlama(o: { gpu: false; build: "never"; logLevel: string; maxThreads: number }): Promise<Llama>;
}
interface Llama {
  loadModel(o: { modelPath: string; gpuLayers: number }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}
interface LlamaModel {
  createContext(o: { contextSize: number; threads: number; batchSize: number; sequences: number }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
interface LlamaContext {
  readonly contextSize: number;
  readonly batchSize: number;
  readonly currentThreads: number;
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
interface LlamaSequence {
  evaluate(tokens: number[], o: { temperature: number }): AsyncGenerator<number>;
  clearHistory(): Promise<void>;
}

/** One generation: prefill, then decode steps. */
export interface GenerationTiming {
  /** Prompt tokens ÷ seconds to the first generated token (prefill + head + sampling). */
  readonly prefillTokensPerSecond: number;
  /** Decode steps ÷ seconds from the first generated token to the last. */
  readonly decodeTokensPerSecond: number;
  /** Process CPU time per decode step (all threads), ms. */
  readonly decodeCpuMsPerStep: number;
  /** The generated tokens: steps + 1 (the prefill's, then each step's). */
  readonly tokens: number[];
}

/** What a loaded runner reports. */
export interface LlamaRunnerInfo {
  /** The context size llama.cpp allocated (padded up from the one asked for). */
  readonly contextSize: number;
  /** Its batch size (prompt tokens per llama_decode call). */
  readonly batchSize: number;
}

/** A loaded llama.cpp, in this process ({@link LlamaRunner}) or in a child (bench/llama-peer's LlamaChild). */
export interface LlamaPeer {
  info(): LlamaRunnerInfo;
  generate(threads: number, prompt: readonly number[], steps: number): Promise<GenerationTiming>;
  close(): Promise<void>;
}

/** llama.cpp on one GGUF file, one context per thread count. */
export class LlamaRunner implements LlamaPeer {
  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly contexts: Map<number, { ctx: LlamaContext; seq: LlamaSequence }>,
  ) {}

  /**
   * Load `modelPath` (a .gguf file) with node-llama-cpp from `entry` (its module file), and create a context of
   * `contextSize` tokens for each of `threads`, batch size = the prompt length (≤ the context size).
   */
  static async open(entry: string, modelPath: string, threads: readonly number[], contextSize: number, batchSize: number): Promise<LlamaRunner> {
    const mod = (await import(pathToFileURL(entry).href)) as NodeLlamaCpp;
    const llama = await mod.getLlama({ gpu: false, build: "never", logLevel: "error", maxThreads: 0 });
    const contexts = new Map<number, { ctx: LlamaContext; seq: LlamaSequence }>();
    let model: LlamaModel | undefined;
    try {
      model = await llama.loadModel({ modelPath, gpuLayers: 0 });
      for (const t of threads) {
        const ctx = await model.createContext({ contextSize, threads: t, batchSize: Math.min(batchSize, contextSize), sequences: 1 });
        contexts.set(t, { ctx, seq: ctx.getSequence() });
      }
      return new LlamaRunner(llama, model, contexts);
    } catch (e) {
      for (const c of contexts.values()) await c.ctx.dispose();
      await model?.dispose();
      await llama.dispose();
      throw e;
    }
  }

  /** Context size and batch size (the same for every thread count). */
  info(): LlamaRunnerInfo {
    const c = [...this.contexts.values()][0]!.ctx;
    return { contextSize: c.contextSize, batchSize: c.batchSize };
  }

  /** Prefill `prompt` in a fresh sequence, then `steps` greedy decode steps, on the context of `threads`. */
  async generate(threads: number, prompt: readonly number[], steps: number): Promise<GenerationTiming> {
    const c = this.contexts.get(threads);
    if (!c) throw new Error(`no llama.cpp context for ${threads} thread(s) (have ${[...this.contexts.keys()].join(", ")})`);
    await c.seq.clearHistory();
    const tokens: number[] = [];
    const t0 = performance.now();
    let t1 = t0;
    let t2 = t0;
    let c1 = process.cpuUsage();
    let cpu = c1;
    for await (const tok of c.seq.evaluate([...prompt], { temperature: 0 })) {
      tokens.push(tok);
      if (tokens.length === 1) {
        t1 = performance.now();
        c1 = process.cpuUsage();
      }
      if (tokens.length === steps + 1) {
        t2 = performance.now();
        cpu = process.cpuUsage(c1);
        break;
      }
    }
    await c.seq.clearHistory();
    if (tokens.length < steps + 1) throw new Error(`llama.cpp stopped after ${tokens.length} of ${steps + 1} tokens (context ${c.ctx.contextSize})`);
    return {
      prefillTokensPerSecond: prompt.length / ((t1 - t0) / 1000),
      decodeTokensPerSecond: steps / ((t2 - t1) / 1000),
      decodeCpuMsPerStep: (cpu.user + cpu.system) / 1000 / steps,
      tokens,
    };
  }

  async close(): Promise<void> {
    for (const c of this.contexts.values()) await c.ctx.dispose();
    this.contexts.clear();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
