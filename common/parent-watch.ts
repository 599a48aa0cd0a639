/** A child process that must not outlive the process that started it. */

/**
 * Call `onGone` when this process's parent is no longer `parent` (it died and this process was
 * re-parented), checked every `intervalMs` (default 500 ms) until the process ends; the timer keeps
 * nothing alive. `onGone` is called on every check after that, so it must be safe to call again.
 */
export function whenParentGone(parent: number, onGone: () => void, intervalMs = 500): void {
  setInterval(() => {
    if (process.ppid !== parent) onGone();
  }, intervalMs).unref();
}
