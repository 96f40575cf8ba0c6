import { describe, expect, it } from "vitest";
import { inOrderByKey } from "../../src/monitor/in-order.js";

const tick = () => new Promise((r) => setImmediate(r));

describe("inOrderByKey", () => {
  it("runs one key's items in order and different keys at once", async () => {
    const log: string[] = [];
    let busy = 0;
    let mostBusy = 0;
    await inOrderByKey(
      ["a1", "b1", "a2", "c1", "b2", "a3"],
      (item) => item[0] as string,
      async (item) => {
        busy += 1;
        mostBusy = Math.max(mostBusy, busy);
        await tick();
        log.push(item);
        busy -= 1;
      },
    );
    expect(mostBusy).toBe(3);
    for (const key of ["a", "b", "c"])
      expect(log.filter((i) => i.startsWith(key))).toEqual(
        ["a1", "b1", "a2", "c1", "b2", "a3"].filter((i) => i.startsWith(key)),
      );
  });

  it("skips a failed key's later items, finishes the other keys, then rejects", async () => {
    const done: string[] = [];
    const run = inOrderByKey(
      ["a1", "b1", "a2", "b2"],
      (item) => item[0] as string,
      async (item) => {
        await tick();
        if (item === "a1") throw new Error("a1 failed");
        done.push(item);
      },
    );
    await expect(run).rejects.toThrow("a1 failed");
    expect(done).toEqual(["b1", "b2"]);
  });
});
