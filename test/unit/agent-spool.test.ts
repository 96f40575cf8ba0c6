import { spawn, spawnSync } from "node:child_process";
import * as realFs from "node:fs";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  decodeRecords,
  encodeRecord,
  HEADER_BYTES,
  Spool,
  type SpoolFs,
  type SpoolOptions,
  type SpoolProblem,
} from "../../src/agent/spool.js";
import { sleep } from "../helpers/wait.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "jabmon-spool-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const record = fc.record({
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  timeMs: fc.integer({ min: 0, max: 2 ** 45 }),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

describe("the spool record codec", () => {
  it("decodes what it encoded", () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 30 }), (records) => {
        const buf = Buffer.concat(records.map((r) => encodeRecord(r.seq, r.timeMs, r.payload)));
        const { records: out, validBytes } = decodeRecords(buf);
        expect(validBytes).toBe(buf.length);
        expect(
          out.map((r) => ({
            seq: r.seq,
            timeMs: r.timeMs,
            payload: Buffer.from(r.payload as Buffer),
          })),
        ).toEqual(records);
      }),
    );
  });

  it("recovers exactly the whole records before a torn or corrupted tail", () => {
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 20 }),
        fc.nat(),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))),
        (records, cutAt, flip) => {
          const encoded = records.map((r) => encodeRecord(r.seq, r.timeMs, r.payload));
          const whole = Buffer.concat(encoded);
          const cut = Buffer.from(whole.subarray(0, cutAt % (whole.length + 1)));
          let damagedAt = cut.length;
          if (flip && cut.length > 0) {
            const at = flip[0] % cut.length;
            cut[at] = (cut[at] as number) ^ flip[1];
            damagedAt = at;
          }
          const { records: out, validBytes } = decodeRecords(cut);
          // Only records that end before the damage, all of them, unchanged.
          let end = 0;
          let expected = 0;
          for (const e of encoded) {
            if (end + e.length > damagedAt) break;
            end += e.length;
            expected++;
          }
          expect(out.length).toBe(expected);
          expect(validBytes).toBe(end);
          out.forEach((r, i) => {
            expect(r.seq).toBe(records[i]?.seq);
            expect(Buffer.compare(r.payload as Buffer, records[i]?.payload as Buffer)).toBe(0);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

type Op =
  | { op: "append"; text: string }
  | { op: "ack"; n: number }
  | { op: "reopen" }
  | { op: "tear"; bytes: number[] };

const ops = fc.array(
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.string({ maxLength: 200 }).map((text) => ({ op: "append", text }) as Op),
    },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => ({ op: "ack", n }) as Op) },
    { weight: 1, arbitrary: fc.constant({ op: "reopen" } as Op) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 })
        .map((bytes) => ({ op: "tear", bytes }) as Op),
    },
  ),
  { maxLength: 80 },
);

describe("the spool", () => {
  it("keeps exactly the unacknowledged results, in order, with increasing seqs, across reopen, torn tails and compaction", () => {
    fc.assert(
      fc.property(ops, (list) => {
        const dir = tempDir();
        // Small compaction threshold so property runs compact often.
        const open = () =>
          Spool.open({
            dir,
            maxBytes: 1 << 30,
            maxAgeMs: 1e12,
            fsync: "never",
            compactBytes: 512,
            stateSaveMs: 0,
          });
        let spool = open();
        const model: Array<{ seq: number; text: string }> = [];
        let lastSeq = 0;
        for (const o of list) {
          if (o.op === "append") {
            const seq = spool.append((s) => `${s}:${o.text}`, Date.now());
            expect(seq).toBeGreaterThan(lastSeq);
            lastSeq = seq;
            model.push({ seq, text: o.text });
          } else if (o.op === "ack") {
            for (const m of model.splice(0, o.n)) spool.ack(m.seq);
          } else {
            spool.close();
            if (o.op === "tear") {
              // A crash mid-append leaves a partial record (or garbage) at the end of the file.
              const file = readdirSync(dir).find((n) => n.endsWith(".log")) as string;
              appendFileSync(join(dir, file), Buffer.from(o.bytes.slice(0, HEADER_BYTES - 1)));
            }
            spool = open();
            expect(spool.nextSeq).toBeGreaterThan(lastSeq);
          }
          const pending: Array<{ seq: number; text: string }> = [];
          for (let e = spool.first(); e; e = spool.after(e.seq)) {
            const [seq, ...rest] = spool.read(e).split(":");
            expect(Number(seq)).toBe(e.seq);
            pending.push({ seq: e.seq, text: rest.join(":") });
          }
          expect(pending).toEqual(model);
        }
        spool.close();
      }),
      { numRuns: 150 },
    );
  });

  it("drops the oldest results past its size bound and reports how many", () => {
    const spool = Spool.open({ dir: tempDir(), maxBytes: 1000, maxAgeMs: 1e12, fsync: "never" });
    const firstSeq = spool.nextSeq;
    for (let i = 0; i < 50; i++) spool.append((s) => `item ${s} ${"x".repeat(50)}`, Date.now());
    const dropped = spool.dropOverLimits(Date.now());
    expect(dropped).toBeGreaterThan(0);
    expect(spool.pendingBytes).toBeLessThanOrEqual(1000);
    expect(spool.first()?.seq).toBe(firstSeq + dropped);
    spool.close();
  });

  it("numbers a brand-new spool from the current time, and an existing one onwards", () => {
    const dir = tempDir();
    const before = Date.now();
    const spool = Spool.open({ dir, maxBytes: 1 << 20, maxAgeMs: 1e12, fsync: "never" });
    // A host reinstalled under the same JID must not restart below its old seqs.
    expect(spool.nextSeq).toBeGreaterThanOrEqual(before);
    // A first start is not a recovery.
    expect(spool.recovery.stateProblem).toBeUndefined();
    const last = spool.append((s) => `item ${s}`, Date.now());
    spool.ack(last);
    spool.close();
    const reopened = Spool.open({
      dir,
      maxBytes: 1 << 20,
      maxAgeMs: 1e12,
      fsync: "never",
      firstSeq: () => 1,
    });
    expect(reopened.nextSeq).toBe(last + 1);
    reopened.close();
  });

  it("loses no acknowledged-durable result when its process is killed with SIGKILL mid-write", async () => {
    const dir = tempDir();
    const spoolJs = join(import.meta.dirname, "..", "..", "dist", "agent", "spool.js");
    // Appends as fast as it can, acks every third, prints each seq once append() returned.
    const script = `
      import { Spool } from ${JSON.stringify(spoolJs)};
      const s = Spool.open({ dir: ${JSON.stringify(dir)}, maxBytes: 1 << 30, maxAgeMs: 1e12, fsync: "always", compactBytes: 4096 });
      for (let i = 0; ; i++) {
        const seq = s.append((q) => "payload " + q + " " + "y".repeat(i % 500), Date.now());
        if (i % 3 === 2) { s.ack(seq - 2); s.ack(seq - 1); process.stdout.write("a" + (seq - 1) + "\\n"); }
        process.stdout.write("s" + seq + "\\n");
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }`;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (d) => {
        out += d.toString();
      });
      // Kill it mid-run: once it is writing (node's start-up takes a while on
      // a busy machine), then a little later each round.
      const started = Date.now();
      while (!/(^|\n)s\d+\n(.*\n){20}/.test(out) && Date.now() - started < 15_000)
        await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100 + round * 150));
      child.kill("SIGKILL");
      await new Promise((r) => child.on("exit", r));
      const lines = out.split("\n").filter((l) => /^[sa]\d+$/.test(l));
      const written = lines.filter((l) => l[0] === "s").map((l) => Number(l.slice(1)));
      const acked = new Set(
        lines
          .filter((l) => l[0] === "a")
          .flatMap((l) => [Number(l.slice(1)), Number(l.slice(1)) - 1]),
      );
      expect(written.length).toBeGreaterThan(10);
      const spool = Spool.open({ dir, maxBytes: 1 << 30, maxAgeMs: 1e12, fsync: "always" });
      const pending = new Set<number>();
      let prev = 0;
      for (let e = spool.first(); e; e = spool.after(e.seq)) {
        expect(e.seq).toBeGreaterThan(prev);
        prev = e.seq;
        expect(spool.read(e)).toMatch(new RegExp(`^payload ${e.seq} y*$`));
        pending.add(e.seq);
      }
      for (const seq of written)
        if (!acked.has(seq)) expect(pending.has(seq) || seq <= spool.ackedSeq).toBe(true);
      expect(spool.nextSeq).toBeGreaterThan(Math.max(...written));
      // Everything the previous round left is acknowledged now: the next round starts empty.
      for (const seq of pending) spool.ack(seq);
      spool.close();
    }
  }, 30_000);
});

// ---- state.json lost, crashes at any file operation, a full disk ------------

const openIn = (dir: string, extra: Partial<SpoolOptions> = {}) =>
  Spool.open({
    dir,
    maxBytes: 1 << 30,
    maxAgeMs: 1e12,
    fsync: "never",
    // Tiny, so that runs compact often and the live generation moves on.
    compactBytes: 128,
    stateSaveMs: 0,
    ...extra,
  });

/** Every pending record, read back: seq and text. */
function pendingOf(spool: Spool): Array<{ seq: number; text: string }> {
  const out: Array<{ seq: number; text: string }> = [];
  for (let e = spool.first(); e; e = spool.after(e.seq)) {
    const [seq, ...rest] = spool.read(e).split(":");
    expect(Number(seq)).toBe(e.seq);
    out.push({ seq: e.seq, text: rest.join(":") });
  }
  return out;
}

/**
 * What reopening may give when the acknowledged position is unknown: every
 * unacknowledged record, unchanged, in order, perhaps after some that were
 * acknowledged (re-sending those is harmless), and nothing never appended.
 */
function expectKeepsUnacked(
  pending: Array<{ seq: number; text: string }>,
  unacked: Array<{ seq: number; text: string }>,
  appended: Map<number, string>,
) {
  const seqs = pending.map((p) => p.seq);
  expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  expect(new Set(seqs).size).toBe(seqs.length);
  for (const p of pending) expect(appended.get(p.seq)).toBe(p.text);
  const kept = new Map(pending.map((p) => [p.seq, p.text]));
  for (const u of unacked) expect(kept.get(u.seq)).toBe(u.text);
}

const stateDamage = fc.constantFrom("delete", "empty", "truncate", "garbage", "zeros");

function damageState(dir: string, how: string) {
  const file = join(dir, "state.json");
  if (!existsSync(file)) return;
  const text = readFileSync(file, "utf8");
  if (how === "delete") unlinkSync(file);
  else if (how === "empty") writeFileSync(file, "");
  else if (how === "truncate") writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
  else if (how === "garbage") writeFileSync(file, '{"gen": "x"');
  else writeFileSync(file, Buffer.alloc(text.length));
}

describe("the spool without a usable state.json", () => {
  it("keeps all 100 pending results when state.json is empty after compactions", () => {
    const dir = tempDir();
    const spool = openIn(dir);
    const appended = new Map<number, string>();
    // Acknowledge enough to compact a few times: the live generation is no longer 0.
    for (let i = 0; i < 60; i++) {
      const seq = spool.append((s) => `${s}:${"a".repeat(40)}`, Date.now());
      appended.set(seq, "a".repeat(40));
      spool.ack(seq);
    }
    const unacked: Array<{ seq: number; text: string }> = [];
    for (let i = 0; i < 100; i++) {
      const seq = spool.append((s) => `${s}:r${i}`, Date.now());
      appended.set(seq, `r${i}`);
      unacked.push({ seq, text: `r${i}` });
    }
    spool.close();
    expect(readdirSync(dir).filter((n) => n.endsWith(".log"))).not.toContain("spool.0.log");
    writeFileSync(join(dir, "state.json"), "");
    const reopened = openIn(dir);
    const pending = pendingOf(reopened);
    expectKeepsUnacked(pending, unacked, appended);
    expect(pending.length).toBeGreaterThanOrEqual(100);
    expect(reopened.nextSeq).toBeGreaterThan(Math.max(...appended.keys()));
    expect(reopened.recovery.stateProblem).toBe("unreadable");
    reopened.close();
    // The decision was saved: the next open follows state.json again.
    expect(openIn(dir).recovery.stateProblem).toBeUndefined();
  });

  it("never hands out a seq again when state.json is lost after everything was acknowledged and compacted", () => {
    const dir = tempDir();
    // A clock that does not move: only the files can tell where numbering stands.
    const spool = openIn(dir, { firstSeq: () => 1000 });
    let last = 0;
    for (let i = 0; i < 10; i++) {
      last = spool.append((s) => `${s}:${"b".repeat(40)}`, Date.now());
      spool.ack(last);
    }
    spool.close();
    expect(readdirSync(dir)).not.toContain("spool.0.log");
    unlinkSync(join(dir, "state.json"));
    const reopened = openIn(dir, { firstSeq: () => 1000 });
    expect(reopened.nextSeq).toBeGreaterThan(last);
    reopened.close();
  });

  it("keeps every unacknowledged result whatever happened to state.json", () => {
    fc.assert(
      fc.property(ops, stateDamage, (list, how) => {
        const dir = tempDir();
        let spool = openIn(dir);
        const model: Array<{ seq: number; text: string }> = [];
        const appended = new Map<number, string>();
        for (const o of list) {
          if (o.op === "append") {
            const seq = spool.append((s) => `${s}:${o.text}`, Date.now());
            appended.set(seq, o.text);
            model.push({ seq, text: o.text });
          } else if (o.op === "ack") {
            for (const m of model.splice(0, o.n)) spool.ack(m.seq);
          } else {
            spool.close();
            damageState(dir, how);
            spool = openIn(dir);
            expectKeepsUnacked(pendingOf(spool), model, appended);
            expect(spool.nextSeq).toBeGreaterThan(Math.max(0, ...appended.keys()));
            // From here on, the re-sent ones are acknowledged again (as the service would).
            for (const p of pendingOf(spool))
              if (!model.some((m) => m.seq === p.seq)) spool.ack(p.seq);
          }
        }
        spool.close();
      }),
      { numRuns: 100 },
    );
  });
});

class Crash extends Error {}

/**
 * node:fs that "crashes the process" at its `crashAt`-th write-side call: that
 * call does half its work at most (a write is torn) and every later call fails,
 * as if the process were gone. Reopening with the real fs then sees exactly
 * what a crash at that point leaves on disk (the page cache survives, as it
 * does when only the process dies; fsync is what the power-cut case adds).
 */
function crashingFs(crashAt: number): SpoolFs {
  let calls = 0;
  const step = () => {
    calls += 1;
    if (calls > crashAt) throw new Crash(`crashed at call ${crashAt}`);
  };
  return {
    ...realFs,
    openSync: ((path: string, flags: string, mode?: number) => {
      if (flags !== "r") step();
      return realFs.openSync(path, flags, mode);
    }) as SpoolFs["openSync"],
    writeSync: ((fd: number, buf: Buffer, offset = 0, length?: number, position?: number) => {
      const len = length ?? buf.length - offset;
      // The call that crashes tears its write: half of it reaches the file.
      if (calls === crashAt) realFs.writeSync(fd, buf, offset, Math.floor(len / 2), position);
      step();
      return realFs.writeSync(fd, buf, offset, len, position);
    }) as SpoolFs["writeSync"],
    fdatasyncSync: (fd) => {
      step();
      realFs.fdatasyncSync(fd);
    },
    fsyncSync: (fd) => {
      step();
      realFs.fsyncSync(fd);
    },
    ftruncateSync: (fd, len) => {
      step();
      realFs.ftruncateSync(fd, len);
    },
    renameSync: (a, b) => {
      step();
      realFs.renameSync(a, b);
    },
    unlinkSync: (p) => {
      step();
      realFs.unlinkSync(p);
    },
  };
}

describe("the spool killed at any file operation", () => {
  it("loses no unacknowledged result and reuses no seq, even when state.json is then lost", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 120 }), fc.integer({ min: 1, max: 4 })), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 0, max: 400 }),
        fc.option(stateDamage),
        (steps, crashAt, damage) => {
          const dir = tempDir();
          const model: Array<{ seq: number; text: string }> = [];
          const appended = new Map<number, string>();
          try {
            const spool = openIn(dir, { fs: crashingFs(crashAt) });
            for (const s of steps) {
              if (typeof s === "string") {
                const seq = spool.append((q) => `${q}:${s}`, Date.now());
                appended.set(seq, s);
                model.push({ seq, text: s });
              } else {
                for (const m of model.splice(0, s)) spool.ack(m.seq);
              }
            }
          } catch (err) {
            if (!(err instanceof Crash)) throw err;
          }
          if (damage !== null) damageState(dir, damage);
          const reopened = openIn(dir);
          expectKeepsUnacked(pendingOf(reopened), model, appended);
          expect(reopened.nextSeq).toBeGreaterThan(Math.max(0, ...appended.keys()));
          reopened.close();
        },
      ),
      { numRuns: 150 },
    );
  });
});

/** A disk that can be filled and freed: a real 1 MiB tmpfs, or node:fs answering ENOSPC. */
interface FullableDisk {
  dir: string;
  fs: SpoolFs | undefined;
  fill(): void;
  free(): void;
  cleanup(): void;
}

function enospc(syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), {
    code: "ENOSPC",
    errno: -28,
    syscall,
  });
}

function injectedFullDisk(): FullableDisk {
  let full = false;
  const guard =
    <A extends unknown[], R>(name: string, f: (...a: A) => R) =>
    (...a: A): R => {
      if (full) throw enospc(name);
      return f(...a);
    };
  const fs: SpoolFs = {
    ...realFs,
    writeSync: guard("write", realFs.writeSync) as SpoolFs["writeSync"],
    fdatasyncSync: guard("fdatasync", realFs.fdatasyncSync),
    fsyncSync: guard("fsync", realFs.fsyncSync),
    openSync: ((path: string, flags: string, mode?: number) => {
      if (full && flags !== "r") throw enospc("open");
      return realFs.openSync(path, flags, mode);
    }) as SpoolFs["openSync"],
  };
  return {
    dir: tempDir(),
    fs,
    fill: () => {
      full = true;
    },
    free: () => {
      full = false;
    },
    cleanup: () => {},
  };
}

/** A real 1 MiB tmpfs (needs root and permission to mount), else undefined. */
function tmpfsDisk(): FullableDisk | undefined {
  const dir = tempDir();
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
  if (mounted.status !== 0) return undefined;
  const filler = join(dir, "filler");
  return {
    dir: join(dir, "spool"),
    fs: undefined,
    fill: () => {
      const fd = realFs.openSync(filler, "a");
      const block = Buffer.alloc(4096, 1);
      try {
        for (;;) realFs.writeSync(fd, block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
      } finally {
        realFs.closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    // Lazy: a file the failed test left open must not keep the mount.
    cleanup: () => {
      spawnSync("umount", ["-l", dir]);
    },
  };
}

async function fullDiskScenario(disk: FullableDisk) {
  const problems: Array<SpoolProblem | undefined> = [];
  const open = () =>
    Spool.open({
      dir: disk.dir,
      maxBytes: 1 << 30,
      maxAgeMs: 1e12,
      fsync: "always",
      compactBytes: 2048,
      stateSaveMs: 5,
      retryMs: 20,
      ...(disk.fs ? { fs: disk.fs } : {}),
      onProblem: (p) => problems.push(p),
    });
  const spool = open();
  const seqs: number[] = [];
  for (let i = 0; i < 60; i++)
    seqs.push(spool.append((s) => `${s}:${"x".repeat(100)}`, Date.now()));
  disk.fill();
  // Appends are refused, loudly, and leave no partial record behind.
  // (Bigger than a page: tmpfs may still have room in the file's last one.)
  expect(() => spool.append((s) => `${s}:${"r".repeat(20_000)}`, Date.now())).toThrow(/ENOSPC/);
  expect(spool.problem).toMatchObject({ operation: "append", code: "ENOSPC" });
  // Acknowledgements still work: compaction and the state-save timer fail quietly and retry.
  for (const seq of seqs.slice(0, 40)) spool.ack(seq);
  await sleep(120);
  expect(spool.pendingCount).toBe(20);
  for (let e = spool.first(); e; e = spool.after(e.seq)) expect(spool.read(e)).toMatch(/x{100}$/);
  disk.free();
  const after = spool.append((s) => `${s}:after`, Date.now());
  await sleep(120);
  expect(spool.problem).toBeUndefined();
  expect(problems.at(0)).toMatchObject({ operation: "append", code: "ENOSPC" });
  expect(problems.at(-1)).toBeUndefined();
  spool.close();
  const reopened = open();
  expect(pendingOf(reopened).map((p) => p.seq)).toEqual([...seqs.slice(40), after]);
  reopened.close();
}

describe("the spool on a full disk", () => {
  it("refuses appends, keeps running and keeps everything spooled (ENOSPC injected at its file layer)", async () => {
    await fullDiskScenario(injectedFullDisk());
  });

  it("does the same on a real full file system (a 1 MiB tmpfs; the injected disk where mount is not permitted)", async () => {
    const disk = tmpfsDisk() ?? injectedFullDisk();
    try {
      await fullDiskScenario(disk);
    } finally {
      disk.cleanup();
    }
  });
});
