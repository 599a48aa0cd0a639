/**
 * SendQueue: one send at a time per socket, in order; a task queued while the
 * queue is idle starts at once (before run() returns), so a caller's frame is
 * with ZeroMQ before it encodes the next one; a failed task does not stop the queue.
 */
import { describe, expect, it } from "vitest";
import { SendQueue } from "../../transport/index.js";

/** A task that records its start and settles when told. */
function gate(log: string[], name: string) {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => ((open = res), (fail = rej)));
  return { task: () => (log.push(`start ${name}`), done.then(() => void log.push(`end ${name}`))), open: () => open(), fail: (e: Error) => fail(e) };
}

describe("SendQueue", () => {
  it("starts a task at once when none is pending, and runs queued tasks one at a time in order", async () => {
    const q = new SendQueue();
    const log: string[] = [];
    const a = gate(log, "a");
    const b = gate(log, "b");
    const c = gate(log, "c");
    const pa = q.run(a.task);
    expect(log).toEqual(["start a"]); // synchronously, before run() returned
    const pb = q.run(b.task);
    const pc = q.run(c.task);
    await Promise.resolve();
    expect(log).toEqual(["start a"]); // b and c wait for a
    b.open(); // b's gate opening early changes nothing: it has not started
    a.open();
    await pa;
    await pb;
    await new Promise((r) => setImmediate(r)); // c starts once b's settlement has gone round the queue
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c"]);
    c.open();
    await pc;
    // idle again: the next task starts at once
    const d = gate(log, "d");
    const pd = q.run(d.task);
    expect(log.at(-1)).toBe("start d");
    d.open();
    await pd;
  });

  it("goes on after a task fails, and passes the failure to that task's caller only", async () => {
    const q = new SendQueue();
    const log: string[] = [];
    const a = gate(log, "a");
    const b = gate(log, "b");
    const pa = q.run(a.task);
    const pb = q.run(b.task);
    a.fail(new Error("EHOSTUNREACH"));
    await expect(pa).rejects.toThrow("EHOSTUNREACH");
    b.open();
    await pb;
    expect(log).toEqual(["start a", "start b", "end b"]);
    // a task that throws synchronously while the queue is idle rejects its own call and leaves the queue usable
    expect(() => q.run(() => { throw new Error("closed"); })).toThrow("closed");
    const c = gate(log, "c");
    const pc = q.run(c.task);
    expect(log.at(-1)).toBe("start c");
    c.open();
    await pc;
  });
});
