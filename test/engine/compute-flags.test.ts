/** The compute flags `moe generate` and `moe serve` share (cli/options.ts): defaults, validation, the old flag. */
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { addComputeFlags, computeOptionsOf, type ComputeFlags } from "../../cli/options.js";

function parse(argv: string[]): ComputeFlags {
  const cmd = addComputeFlags(new Command("x").exitOverride());
  cmd.parse(argv, { from: "user" });
  return cmd.opts<ComputeFlags>();
}

describe("compute flags", () => {
  it("default: the given thread count, int8 activations, f32 KV cache, cpu", () => {
    expect(computeOptionsOf(parse([]), 8)).toEqual({ threads: 8, executionProvider: "cpu", exactQ8: false, dequantizeQ8: false, kvDtype: "f32" });
  });

  it("--threads, --exact-8bit, --dequantize-q8, --kv-dtype f16", () => {
    expect(computeOptionsOf(parse(["--threads", "2", "--exact-8bit", "--dequantize-q8", "--kv-dtype", "f16"]), 8)).toEqual({
      threads: 2,
      executionProvider: "cpu",
      exactQ8: true,
      dequantizeQ8: true,
      kvDtype: "f16",
    });
  });

  it("--spin and --single-thread-rows", () => {
    expect(computeOptionsOf(parse(["--threads", "2", "--spin", "--single-thread-rows", "0"]), 8)).toMatchObject({ threads: 2, spinning: true, singleThreadRows: 0 });
    expect(computeOptionsOf(parse([]), 8)).not.toHaveProperty("spinning");
    expect(() => parse(["--single-thread-rows", "-1"])).toThrow(/--single-thread-rows must be an integer >= 0/);
  });

  it("--expert-workers: 2 or more turns it on; 0 and 1 leave it off", () => {
    expect(computeOptionsOf(parse(["--expert-workers", "2"]), 2)).toMatchObject({ threads: 2, expertWorkers: 2 });
    expect(computeOptionsOf(parse(["--expert-workers", "1"]), 2)).not.toHaveProperty("expertWorkers");
    expect(computeOptionsOf(parse([]), 2)).not.toHaveProperty("expertWorkers");
    expect(() => parse(["--expert-workers", "x"])).toThrow(/--expert-workers must be an integer >= 0/);
  });

  it("--expert-sessions layer|expert and --expert-executor sequential|parallel; absent by default; bad values name the flag", () => {
    expect(computeOptionsOf(parse(["--expert-sessions", "expert"]), 2)).toMatchObject({ expertSessions: "expert" });
    expect(computeOptionsOf(parse(["--expert-sessions", "layer", "--expert-executor", "parallel"]), 2)).toMatchObject({ expertSessions: "layer", expertExecutor: "parallel" });
    expect(computeOptionsOf(parse([]), 2)).not.toHaveProperty("expertSessions");
    expect(computeOptionsOf(parse([]), 2)).not.toHaveProperty("expertExecutor");
    expect(() => computeOptionsOf(parse(["--expert-sessions", "layers"]), 2)).toThrow(/--expert-sessions must be layer or expert, got 'layers'/);
    expect(() => computeOptionsOf(parse(["--expert-executor", "inter"]), 2)).toThrow(/--expert-executor must be sequential or parallel, got 'inter'/);
  });

  it("--int8-activations is still accepted and changes nothing", () => {
    expect(computeOptionsOf(parse(["--int8-activations"]), 4)).toEqual(computeOptionsOf(parse([]), 4));
  });

  it("bad values name the flag", () => {
    expect(() => computeOptionsOf(parse(["--kv-dtype", "f8"]), 1)).toThrow(/--kv-dtype must be f32 or f16, got 'f8'/);
    expect(() => computeOptionsOf(parse(["--execution-provider", "tpu"]), 1)).toThrow(/--execution-provider must be cpu or cuda/);
    expect(() => parse(["--threads", "0"])).toThrow(/--threads must be an integer >= 1/);
  });
});
