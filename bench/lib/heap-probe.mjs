/**
 * Preloaded into a bench's child process (`node --expose-gc --import
 * bench/lib/heap-probe.mjs …`): on SIGUSR2 it runs a full GC and writes one
 * JSON line of memory figures to $JABMON_HEAP_PROBE_FILE (heap after GC,
 * RSS, external, the active handles by type), and a heap snapshot beside it
 * when the file `<that file>.snapshot-next` exists (it is then removed). A bench reads the agent's heap
 * this way without any code of the agent knowing about it.
 */
import { appendFileSync, existsSync, rmSync } from "node:fs";
import { getHeapStatistics, writeHeapSnapshot } from "node:v8";

const out = process.env.JABMON_HEAP_PROBE_FILE;
let n = 0;
if (out && typeof globalThis.gc === "function") {
  process.on("SIGUSR2", () => {
    // Twice: the first pass can leave garbage that finalizers or weak callbacks free on the second.
    globalThis.gc();
    globalThis.gc();
    const m = process.memoryUsage();
    const handles = {};
    for (const type of process.getActiveResourcesInfo()) handles[type] = (handles[type] ?? 0) + 1;
    const line = {
      n: n++,
      heap_used_mb: m.heapUsed / 1048576,
      heap_total_mb: m.heapTotal / 1048576,
      rss_mb: m.rss / 1048576,
      external_mb: m.external / 1048576,
      array_buffers_mb: m.arrayBuffers / 1048576,
      malloced_mb: getHeapStatistics().malloced_memory / 1048576,
      handles,
    };
    if (existsSync(`${out}.snapshot-next`)) {
      rmSync(`${out}.snapshot-next`);
      line.snapshot = writeHeapSnapshot(`${out}.${line.n}.heapsnapshot`);
    }
    appendFileSync(out, `${JSON.stringify(line)}\n`);
  });
}
