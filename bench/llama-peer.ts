/**
 * The parent's side of llama.cpp: {@link openLlamaPeer} loads it in a child process (bench/llama-child.ts,
 * the default) or in this process.
 */
import type { ChildProcess } from "node:child_process";
import { firstMessage, forkBenchChild } from "./child.js";
import { LlamaRunner, type GenerationTiming, type LlamaPeer, type LlamaRunnerInfo } from "./llama-runner.js";

type Reply = { ready?: LlamaRunnerInfo; result?: GenerationTiming; error?: string };

/** llama.cpp in bench/llama-child: the same calls as {@link LlamaRunner}, over IPC (one at a time). */
class LlamaChild implements LlamaPeer {
  constructor(
    private readonly child: ChildProcess,
    private readonly loaded: LlamaRunnerInfo,
  ) {}

  static async open(entry: string, modelPath: string, threads: readonly number[], contextSize: number, batchSize: number): Promise<LlamaChild> {
    const child = forkBenchChild("llama-child", [entry, modelPath, threads.join(","), String(contextSize), String(batchSize)]);
    let first: Reply;
    try {
      first = await firstMessage<Reply>(child, "the llama.cpp child (bench/llama-child)");
    } catch (e) {
      child.kill();
      throw e;
    }
    if (!first.ready) {
      child.kill();
      throw new Error(first.error ?? "the llama.cpp child sent no ready message");
    }
    return new LlamaChild(child, first.ready);
  }

  info(): LlamaRunnerInfo {
    return this.loaded;
  }

  async generate(threads: number, prompt: readonly number[], steps: number): Promise<GenerationTiming> {
    const reply = firstMessage<Reply>(this.child, "the llama.cpp child (bench/llama-child)");
    this.child.send({ generate: { threads, prompt: [...prompt], steps } });
    const r = await reply;
    if (!r.result) throw new Error(`llama.cpp: ${r.error ?? "no result"}`);
    return r.result;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((ok) => this.child.once("exit", () => ok()));
    if (this.child.connected) this.child.send("close");
    const timer = setTimeout(() => this.child.kill(), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

/**
 * llama.cpp (node-llama-cpp's module `entry`) on the GGUF file `modelPath`, one context of `contextSize` tokens per
 * thread count, prompt batch `batchSize`; in a child process unless `inProcess`.
 */
export async function openLlamaPeer(o: { entry: string; modelPath: string; threads: readonly number[]; contextSize: number; batchSize: number; inProcess: boolean }): Promise<LlamaPeer> {
  return o.inProcess ? LlamaRunner.open(o.entry, o.modelPath, o.threads, o.contextSize, o.batchSize) : LlamaChild.open(o.entry, o.modelPath, o.threads, o.contextSize, o.batchSize);
}
