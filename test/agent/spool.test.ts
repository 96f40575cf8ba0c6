import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { decodeRecords, encodeRecord, HEADER_BYTES, Spool } from "../../src/agent/spool.js";

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
