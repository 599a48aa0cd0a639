/**
 * Lazy command actions: `register(program)` of each command stays cheap (commander options, help,
 * light option parsers); the action's module, with its heavy imports (onnxruntime, ZeroMQ, NATS,
 * Arrow...), loads only when the action runs. `moe --version`, `--help` and every other command
 * then start without loading what they do not use.
 */

/** An action that imports its implementation on first call: `.action(lazy(async () => (await import("./x-run.js")).action))`. */
export function lazy<A extends unknown[]>(load: () => Promise<(...args: A) => unknown>): (...args: A) => Promise<void> {
  return async (...args: A): Promise<void> => {
    const action = await load();
    await action(...args);
  };
}
