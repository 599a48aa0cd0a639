/**
 * onnxruntime's telemetry, off unless the user asks for it.
 *
 * onnxruntime-node 1.30's Linux library starts Microsoft's 1DS telemetry client when it creates its
 * environment (at the first session of a process): it queues events, tries HTTPS uploads, and writes
 * `/tmp/mat-debug-PID.log` for every process (thousands of files after a test run). A serving system
 * should not report to a third party by default, so unless `ORT_DISABLE_TELEMETRY` is already set
 * (onnxruntime reads it: `1` off, anything else on) it is set to `1` before the first session.
 * (onnxruntime itself starts no telemetry in a process with a CI job's variable set: `CI`, `GITHUB_ACTIONS`,
 * `TF_BUILD`, `GITLAB_CI`, `JENKINS_URL`, …; test/engine/ort-telemetry.test.ts lists them.)
 */

/** The environment variable onnxruntime reads when it creates its environment. */
export const ORT_TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY";

/**
 * Set {@link ORT_TELEMETRY_ENV} to `1` in `env` unless it is already set (a user's `ORT_DISABLE_TELEMETRY=0`
 * keeps onnxruntime's default). Must run before the process's first onnxruntime session: the library reads
 * the variable once, when it creates its environment. Child processes inherit it. Only the main thread's
 * `process.env` is the process's environment (a worker thread's is a copy onnxruntime never reads), so the
 * main thread calls it before it starts threads that create sessions (model/engine/expert-workers.ts).
 */
export function disableOrtTelemetryByDefault(env: NodeJS.ProcessEnv = process.env): void {
  if (env[ORT_TELEMETRY_ENV] === undefined) env[ORT_TELEMETRY_ENV] = "1";
}
