/**
 * onnxruntime's telemetry is off by default (model/blocks/telemetry.ts): a real `moe generate` process
 * leaves no `mat-debug-PID.log` in its temporary directory (onnxruntime 1.30's 1DS client writes one per
 * process when it is on; also with expert worker threads), and a user's `ORT_DISABLE_TELEMETRY=0` keeps onnxruntime's default (the file
 * appears: the check can fail).
 *
 * onnxruntime also leaves telemetry off by itself when the process looks like a CI job (`CI`, `GITHUB_ACTIONS`,
 * `TF_BUILD`, … set: the names below are read from its library), so the child processes run without those
 * variables: otherwise, under CI, the "on" case writes nothing and the "off" cases could not fail.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureTinyModel } from "../../factory/index.js";
import { disableOrtTelemetryByDefault, ORT_TELEMETRY_ENV } from "../../model/index.js";
import { MOE_CLI } from "../moe-cli.js";

/** The variables onnxruntime 1.30 reads to tell a CI job (strings of libonnxruntime.so.1, beside `ORT_DISABLE_TELEMETRY`). */
const CI_VARIABLES = [
  "CI", "TF_BUILD", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
  "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER",
];

const root = mkdtempSync(join(tmpdir(), "moe-telemetry-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Run `moe generate` on the tiny model with TMPDIR = a fresh folder; the telemetry logs it left there. */
async function telemetryLogs(name: string, extraEnv: Record<string, string>, extraArgs: readonly string[] = []): Promise<string[]> {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir, ...extraEnv };
  if (!(ORT_TELEMETRY_ENV in extraEnv)) delete env[ORT_TELEMETRY_ENV];
  for (const name of CI_VARIABLES) delete env[name];
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [...MOE_CLI, "generate", "--model", ensureTinyModel(), "--prompt-ids", "1,2,3", "--max-tokens", "2", ...extraArgs], { env, timeout: 120_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`moe generate failed: ${err.message}\n${stderr}`)) : resolve(),
    ),
  );
  return readdirSync(dir).filter((f) => f.startsWith("mat-debug-"));
}

describe("onnxruntime telemetry", () => {
  it("is off in a moe process unless the user set ORT_DISABLE_TELEMETRY", async () => {
    expect(await telemetryLogs("default", {})).toEqual([]);
    // expert worker threads create sessions too (a worker's process.env is a copy onnxruntime never reads)
    expect(await telemetryLogs("workers", {}, ["--expert-workers", "2"])).toEqual([]);
    expect((await telemetryLogs("user-on", { [ORT_TELEMETRY_ENV]: "0" })).length).toBe(1);
  }, 240_000);

  it("disableOrtTelemetryByDefault sets 1 only where the variable is unset", () => {
    const unset: NodeJS.ProcessEnv = {};
    disableOrtTelemetryByDefault(unset);
    expect(unset[ORT_TELEMETRY_ENV]).toBe("1");
    const userOn: NodeJS.ProcessEnv = { [ORT_TELEMETRY_ENV]: "0" };
    disableOrtTelemetryByDefault(userOn);
    expect(userOn[ORT_TELEMETRY_ENV]).toBe("0");
  });
});
