/**
 * The agent's on-disk spool: every result is appended here, with its sequence
 * number, BEFORE it is sent, and leaves only when the service acknowledged it
 * (publish IQ result). A hand-written append-only log, because that is all we
 * need and it costs no memory: records are
 *
 *   length u32 BE | crc32 u32 BE | seq f64 BE | time f64 BE | payload (UTF-8 XML)
 *
 * with the CRC over seq, time and payload. Recovery reads from the saved ack
 * offset and stops at the first record that is short or fails its CRC (a torn
 * write from a crash), truncating the file there.
 *
 * Durability (docs/agent.md, "Spool"): with `fsync: always` (the default) every
 * append is fdatasync'ed before append() returns, so a sequence number handed
 * to anyone (a shell script through the socket, the publisher) survives a
 * power cut. The ack position lives in state.json, saved at most every
 * `stateSaveMs`: written to a temporary file, fsync'ed, renamed over, and the
 * directory fsync'ed, so a crash leaves the old state or the new one, never an
 * empty file. Files: `spool.<generation>.log` and `state.json`; compaction
 * copies the unacknowledged tail into the next generation and switches by
 * renaming state.json.
 *
 * state.json is only a hint. When it is missing, unreadable, or names a
 * generation that is not the right one, the spool decides from the files
 * themselves (see `planOpen`) and keeps every record it cannot prove
 * acknowledged: re-sending costs nothing, the service is idempotent on seq.
 *
 * A write that fails (a full disk: ENOSPC) never throws out of a timer or an
 * acknowledgement: the spool keeps what it holds, retries later, and reports
 * the condition through `onProblem` (the agent logs it and shows it in its
 * presence). Only append() throws, so a result that could not be spooled is
 * refused to its producer instead of being lost silently.
 */
import * as nodeFs from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";

/**
 * The file operations the spool uses: node:fs by default. Tests pass a layer
 * that fails like a full disk does (ENOSPC) at exactly this boundary.
 */
export type SpoolFs = Pick<
  typeof nodeFs,
  | "closeSync"
  | "fdatasyncSync"
  | "fstatSync"
  | "fsyncSync"
  | "ftruncateSync"
  | "mkdirSync"
  | "openSync"
  | "readdirSync"
  | "readFileSync"
  | "readSync"
  | "renameSync"
  | "unlinkSync"
  | "writeSync"
>;

export const HEADER_BYTES = 24;
/** A length field above this is garbage, not a record. */
export const MAX_RECORD_PAYLOAD = 1 << 20;

export interface DecodedRecord {
  seq: number;
  timeMs: number;
  /** Offset of the record (header included) in the decoded buffer, plus the base. */
  offset: number;
  /** Header plus payload. */
  size: number;
  /** Left out when decoding only to index the spool (saves memory on a large recovery). */
  payload?: Buffer;
}

export function encodeRecord(seq: number, timeMs: number, payload: Buffer): Buffer {
  if (payload.length > MAX_RECORD_PAYLOAD) throw new RangeError("spool record too large");
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  buf.writeUInt32BE(payload.length, 0);
  buf.writeDoubleBE(seq, 8);
  buf.writeDoubleBE(timeMs, 16);
  payload.copy(buf, HEADER_BYTES);
  buf.writeUInt32BE(crc32(buf.subarray(8)), 4);
  return buf;
}

/**
 * Decode records from `buf` until the end or the first invalid one.
 * `validBytes` is how far the records are good: everything after is a torn tail.
 */
export function decodeRecords(
  buf: Buffer,
  base = 0,
  withPayload = true,
): { records: DecodedRecord[]; validBytes: number } {
  const records: DecodedRecord[] = [];
  let pos = 0;
  while (pos + HEADER_BYTES <= buf.length) {
    const length = buf.readUInt32BE(pos);
    if (length > MAX_RECORD_PAYLOAD || pos + HEADER_BYTES + length > buf.length) break;
    const crc = buf.readUInt32BE(pos + 4);
    if (crc32(buf.subarray(pos + 8, pos + HEADER_BYTES + length)) !== crc) break;
    const seq = buf.readDoubleBE(pos + 8);
    const timeMs = buf.readDoubleBE(pos + 16);
    if (!Number.isSafeInteger(seq) || seq < 1) break;
    records.push({
      seq,
      timeMs,
      offset: base + pos,
      size: HEADER_BYTES + length,
      ...(withPayload
        ? { payload: buf.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + length) }
        : {}),
    });
    pos += HEADER_BYTES + length;
  }
  return { records, validBytes: pos };
}

export interface SpoolOptions {
  dir: string;
  /** Unacknowledged bytes kept at most; the oldest are dropped past this. */
  maxBytes: number;
  /** Unacknowledged records older than this are dropped. */
  maxAgeMs: number;
  fsync: "always" | "never";
  /** Compact once this many acknowledged bytes sit at the head of the file. */
  compactBytes?: number;
  stateSaveMs?: number;
  /** After a failed state save or compaction, wait at least this long before the next try. */
  retryMs?: number;
  /** Where a brand-new spool starts numbering (default: the current time in ms). */
  firstSeq?: () => number;
  /** Called when a write starts failing (with the problem) and when writing works again (undefined). */
  onProblem?: (problem: SpoolProblem | undefined) => void;
  fs?: SpoolFs;
}

export interface SpoolEntry {
  seq: number;
  timeMs: number;
  offset: number;
  size: number;
}

interface State {
  gen: number;
  offset: number;
  ackedSeq: number;
}

/** Which write failed: appending a result, saving the ack position, or compacting. */
export type SpoolOperation = "append" | "state" | "compact";

export interface SpoolProblem {
  operation: SpoolOperation;
  /** e.g. "ENOSPC: no space left on device, write" */
  error: string;
  /** The errno code when there is one (ENOSPC, EDQUOT, EIO, EROFS). */
  code: string | undefined;
}

export interface Recovery {
  records: number;
  truncatedBytes: number;
  /**
   * Why the spool did not simply follow state.json: "missing", "unreadable",
   * "stale" (it named another generation than the one that holds the latest
   * records); undefined when it did.
   */
  stateProblem: "missing" | "unreadable" | "stale" | undefined;
}

interface OpenPlan {
  state: State;
  /** The generation files to remove once the decision is saved. */
  superseded: number[];
  stateProblem: Recovery["stateProblem"];
}

const GENERATION_FILE = /^spool\.(\d+)\.log$/;

function generationsIn(fs: SpoolFs, dir: string): number[] {
  return fs
    .readdirSync(dir)
    .map((name) => GENERATION_FILE.exec(name)?.[1])
    .filter((g): g is string => g !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The highest sequence number among a file's valid records (0 for none). */
function maxSeqIn(fs: SpoolFs, file: string): number {
  const { records } = decodeRecords(fs.readFileSync(file), 0, false);
  return records.reduce((max, r) => Math.max(max, r.seq), 0);
}

/** state.json, if it is there and well-formed. */
function readState(fs: SpoolFs, dir: string): State | "missing" | "unreadable" {
  let text: string;
  try {
    text = fs.readFileSync(join(dir, "state.json"), "utf8");
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : "unreadable";
  }
  try {
    const parsed = JSON.parse(text) as State;
    if (
      Number.isSafeInteger(parsed.gen) &&
      Number.isSafeInteger(parsed.offset) &&
      Number.isSafeInteger(parsed.ackedSeq) &&
      parsed.gen >= 0 &&
      parsed.offset >= 0 &&
      parsed.ackedSeq >= 0
    )
      return { gen: parsed.gen, offset: parsed.offset, ackedSeq: parsed.ackedSeq };
  } catch {
    // An empty or torn state.json (a crash before its data reached the disk).
  }
  return "unreadable";
}

/**
 * Which generation to open, deciding from the files when state.json is not
 * enough. Compaction writes `spool.<g+1>.log` as a copy of g's unacknowledged
 * tail, fdatasyncs it, then switches state.json, and only then do appends go
 * to g+1. So of two generations, the one holding the highest seq holds every
 * unacknowledged record: g+1 if anything was appended after the switch, else
 * g (whose records include the copied tail; if g+1 was cut short by a crash
 * mid-copy, g still has it all). A tie goes to the generation the state names,
 * else to the older one, its superset. Without a trusted state every record
 * counts as unacknowledged (ackedSeq 0): the agent re-sends, the service
 * answers a replay as a success without storing it twice.
 */
function planOpen(fs: SpoolFs, dir: string): OpenPlan {
  const state = readState(fs, dir);
  const gens = generationsIn(fs, dir);
  const trusted = typeof state === "object" ? state : undefined;
  if (trusted && gens.every((g) => g === trusted.gen))
    return { state: trusted, superseded: [], stateProblem: undefined };
  const stateProblem = typeof state === "string" ? state : "stale";
  // No records anywhere: a first start, unless a damaged state.json says otherwise.
  if (gens.length === 0)
    return {
      state: trusted ?? { gen: 0, offset: 0, ackedSeq: 0 },
      superseded: [],
      stateProblem: state === "unreadable" ? state : undefined,
    };
  const maxSeqs = gens.map((g) => maxSeqIn(fs, join(dir, `spool.${g}.log`)));
  const top = Math.max(...maxSeqs);
  const holders = gens.filter((_, i) => maxSeqs[i] === top);
  const gen = trusted && holders.includes(trusted.gen) ? trusted.gen : (holders[0] as number);
  return {
    state: {
      gen,
      offset: trusted?.gen === gen ? trusted.offset : 0,
      // An older state's ackedSeq is still true: acknowledgements only move forwards.
      ackedSeq: trusted?.ackedSeq ?? 0,
    },
    superseded: gens.filter((g) => g !== gen),
    // Following the state it had was right after all: only leftovers to remove.
    stateProblem: trusted?.gen === gen ? undefined : stateProblem,
  };
}

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException).code;

type ResolvedOptions = Required<Omit<SpoolOptions, "onProblem">> & Pick<SpoolOptions, "onProblem">;

export class Spool {
  readonly #opts: ResolvedOptions;
  readonly #fs: SpoolFs;
  #fd: number;
  #gen: number;
  #end: number;
  /** File offset of the first unacknowledged record. */
  #ackOffset: number;
  #ackedSeq: number;
  #nextSeq: number;
  #entries: SpoolEntry[];
  #head = 0;
  /** Acknowledged out of order, waiting for the head to reach them. */
  readonly #ackedAhead = new Set<number>();
  #pendingBytes: number;
  #stateDirty = false;
  #lastSave = 0;
  /** Offset of the last record in the file (the highest seq), if known. */
  #lastOffset: number | undefined;
  #saveTimer: NodeJS.Timeout | undefined;
  /** Set while a failed compaction waits to be tried again. */
  #compactTimer: NodeJS.Timeout | undefined;
  readonly #problems = new Map<SpoolOperation, SpoolProblem>();
  readonly recovery: Recovery;

  private constructor(opts: ResolvedOptions, plan: OpenPlan) {
    this.#opts = opts;
    this.#fs = opts.fs;
    const fs = this.#fs;
    const { state } = plan;
    this.#gen = state.gen;
    const file = this.#file(state.gen);
    this.#fd = fs.openSync(file, "a+", 0o600);
    const size = fs.fstatSync(this.#fd).size;
    // A state older than a compaction can point past the end: the seq filter below still holds.
    const start = state.offset <= size ? state.offset : 0;
    const buf = size > start ? fs.readFileSync(file).subarray(start) : Buffer.alloc(0);
    const { records, validBytes } = decodeRecords(buf, start, false);
    const truncatedBytes = size - start - validBytes;
    if (truncatedBytes > 0) {
      fs.ftruncateSync(this.#fd, start + validBytes);
      fs.fdatasyncSync(this.#fd);
    }
    this.#end = start + validBytes;
    this.#lastOffset = records.at(-1)?.offset;
    let maxSeq = state.ackedSeq;
    this.#entries = [];
    this.#pendingBytes = 0;
    for (const r of records) {
      maxSeq = Math.max(maxSeq, r.seq);
      if (r.seq <= state.ackedSeq) continue;
      this.#entries.push({ seq: r.seq, timeMs: r.timeMs, offset: r.offset, size: r.size });
      this.#pendingBytes += r.size;
    }
    this.#ackedSeq = state.ackedSeq;
    this.#ackOffset = this.#entries[0]?.offset ?? this.#end;
    // A brand-new spool (first start, or a host reinstalled under the same JID)
    // numbers from the current time in ms, not from 1: the service takes a seq
    // at or below what it has stored for the node as a replay, so a reinstalled
    // agent counting from 1 would be ignored until it passed its old self. An
    // agent makes far fewer than one result per ms, so its old seqs stay below.
    const fresh = maxSeq === 0 && records.length === 0;
    this.#nextSeq = fresh ? Math.max(1, opts.firstSeq()) : maxSeq + 1;
    this.recovery = {
      records: this.#entries.length,
      truncatedBytes,
      stateProblem: plan.stateProblem,
    };
    if (plan.stateProblem !== undefined || plan.superseded.length > 0) this.#settlePlan(plan);
  }

  /**
   * Save the decision first, then remove the generations it superseded: a crash
   * in between leaves files the next open decides the same way about. A full
   * disk leaves the old files in place (the state is retried later).
   */
  #settlePlan(plan: OpenPlan): void {
    try {
      this.#writeState({ gen: this.#gen, offset: this.#ackOffset, ackedSeq: this.#ackedSeq });
    } catch (err) {
      this.#stateDirty = true;
      this.#fail("state", err);
      this.#scheduleSave(this.#opts.retryMs);
      return;
    }
    for (const g of plan.superseded) {
      try {
        this.#fs.unlinkSync(this.#file(g));
      } catch {
        // Left for the next open, which decides the same way.
      }
    }
  }

  static open(options: SpoolOptions): Spool {
    const opts: ResolvedOptions = {
      compactBytes: 1 << 20,
      stateSaveMs: 2000,
      retryMs: 5000,
      firstSeq: Date.now,
      fs: nodeFs as SpoolFs,
      ...options,
    };
    opts.fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    return new Spool(opts, planOpen(opts.fs, opts.dir));
  }

  #file(gen: number): string {
    return join(this.#opts.dir, `spool.${gen}.log`);
  }

  /** The sequence number the next append will get. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /**
   * Number the next append at least `seq` (the publisher re-seeds when the
   * service refuses a seq that went back: docs/protocol.md). Kept across
   * restarts by the records appended from then on.
   */
  raiseNextSeq(seq: number): void {
    if (Number.isSafeInteger(seq) && seq > this.#nextSeq) this.#nextSeq = seq;
  }

  get pendingCount(): number {
    return this.#entries.length - this.#head;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Highest sequence acknowledged (or dropped). */
  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  /** The write that is failing now (appends first), if any. */
  get problem(): SpoolProblem | undefined {
    return (
      this.#problems.get("append") ?? this.#problems.get("state") ?? this.#problems.get("compact")
    );
  }

  #fail(operation: SpoolOperation, err: unknown): void {
    const before = this.problem;
    this.#problems.set(operation, {
      operation,
      error: (err as Error).message,
      code: errorCode(err),
    });
    if (this.problem !== before) this.#opts.onProblem?.(this.problem);
  }

  #succeed(operation: SpoolOperation): void {
    if (!this.#problems.has(operation)) return;
    const before = this.problem;
    this.#problems.delete(operation);
    if (this.problem !== before) this.#opts.onProblem?.(this.problem);
  }

  /**
   * Assign the next sequence number, build the payload with it, append it and
   * (with fsync: always) make it durable. Returns the sequence number. Throws
   * when it cannot (disk full): the result is not in the spool, and the
   * caller tells its producer so.
   */
  append(payloadFor: (seq: number) => string, timeMs: number): number {
    const seq = this.#nextSeq;
    const record = encodeRecord(seq, timeMs, Buffer.from(payloadFor(seq), "utf8"));
    const fs = this.#fs;
    try {
      let written = 0;
      while (written < record.length) written += fs.writeSync(this.#fd, record, written);
      if (this.#opts.fsync === "always") fs.fdatasyncSync(this.#fd);
    } catch (err) {
      // A partial record (disk full) must not stay in front of the next append.
      try {
        fs.ftruncateSync(this.#fd, this.#end);
      } catch {
        // Recovery truncates a torn tail anyway.
      }
      this.#fail("append", err);
      throw err;
    }
    this.#succeed("append");
    this.#entries.push({ seq, timeMs, offset: this.#end, size: record.length });
    this.#lastOffset = this.#end;
    this.#end += record.length;
    this.#pendingBytes += record.length;
    this.#nextSeq = seq + 1;
    return seq;
  }

  /** The oldest unacknowledged entry. */
  first(): SpoolEntry | undefined {
    return this.#entries[this.#head];
  }

  /** The first unacknowledged entry with a sequence number above `seq`. */
  after(seq: number): SpoolEntry | undefined {
    let lo = this.#head;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#entries[mid] as SpoolEntry).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.#entries[lo];
  }

  read(entry: SpoolEntry): string {
    const buf = Buffer.allocUnsafe(entry.size - HEADER_BYTES);
    let got = 0;
    while (got < buf.length) {
      const n = this.#fs.readSync(
        this.#fd,
        buf,
        got,
        buf.length - got,
        entry.offset + HEADER_BYTES + got,
      );
      if (n === 0) throw new Error(`spool: short read at ${entry.offset}`);
      got += n;
    }
    return buf.toString("utf8");
  }

  /** The service has stored `seq`. Out-of-order acks are held until the head reaches them. */
  ack(seq: number): void {
    if (seq <= this.#ackedSeq) return;
    this.#ackedAhead.add(seq);
    let advanced = false;
    for (;;) {
      const head = this.#entries[this.#head];
      if (!head || !this.#ackedAhead.delete(head.seq)) break;
      this.#advance();
      advanced = true;
    }
    if (advanced) this.#afterAdvance();
  }

  /**
   * Drop the oldest unacknowledged records while over the size or age bound.
   * Returns how many were dropped (the caller publishes a spool-dropped event).
   */
  dropOverLimits(nowMs: number): number {
    let dropped = 0;
    for (;;) {
      const head = this.#entries[this.#head];
      if (!head) break;
      const tooBig = this.#pendingBytes > this.#opts.maxBytes;
      const tooOld = nowMs - head.timeMs > this.#opts.maxAgeMs;
      if (!tooBig && !tooOld) break;
      this.#ackedAhead.delete(head.seq);
      this.#advance();
      dropped += 1;
    }
    if (dropped > 0) this.#afterAdvance();
    return dropped;
  }

  #advance(): void {
    const head = this.#entries[this.#head] as SpoolEntry;
    this.#head += 1;
    this.#pendingBytes -= head.size;
    this.#ackedSeq = head.seq;
    this.#ackOffset = head.offset + head.size;
  }

  #afterAdvance(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    this.#stateDirty = true;
    if (this.#compactionDue() && this.#compact()) return;
    this.#scheduleSave(this.#lastSave + this.#opts.stateSaveMs - Date.now());
  }

  #compactionDue(): boolean {
    return (
      this.#ackOffset >= this.#opts.compactBytes &&
      this.#ackOffset * 2 >= this.#end &&
      this.#compactTimer === undefined
    );
  }

  #scheduleSave(waitMs: number): void {
    if (waitMs <= 0 && this.#saveTimer === undefined) this.#saveState();
    else this.#saveTimer ??= setTimeout(() => this.#saveState(), Math.max(0, waitMs)).unref();
  }

  /** Never throws: it runs from a timer and from acknowledgements. */
  #saveState(): void {
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    if (!this.#stateDirty) return;
    try {
      this.#writeState({ gen: this.#gen, offset: this.#ackOffset, ackedSeq: this.#ackedSeq });
    } catch (err) {
      // The acks stay in memory; at worst a restart re-sends what they covered.
      this.#fail("state", err);
      this.#scheduleSave(this.#opts.retryMs);
    }
  }

  /** Temporary file, fsync, rename, directory fsync: after a crash state.json is the old one or the new one. */
  #writeState(state: State): void {
    const fs = this.#fs;
    const tmp = join(this.#opts.dir, "state.json.tmp");
    try {
      const fd = fs.openSync(tmp, "w", 0o600);
      try {
        const data = Buffer.from(JSON.stringify(state));
        let written = 0;
        while (written < data.length) written += fs.writeSync(fd, data, written);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, join(this.#opts.dir, "state.json"));
    } catch (err) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // Not created, or already renamed.
      }
      throw err;
    }
    this.#syncDir();
    this.#stateDirty = false;
    this.#lastSave = Date.now();
    this.#succeed("state");
  }

  /**
   * Copy the unacknowledged tail into the next generation and switch to it.
   * With nothing unacknowledged, the last record is copied anyway (it is
   * acknowledged, so it is not sent again): the file must keep the highest
   * seq, or a lost state.json would let seqs the service has already seen be
   * handed out again, and the service would take those results for replays.
   * Returns false when it could not (disk full): the current generation stays
   * as it was and compaction is tried again after `retryMs`.
   */
  #compact(): boolean {
    const fs = this.#fs;
    const gen = this.#gen + 1;
    const file = this.#file(gen);
    const from =
      this.#ackOffset === this.#end && this.#lastOffset !== undefined
        ? this.#lastOffset
        : this.#ackOffset;
    let fd: number | undefined;
    let out = 0;
    try {
      fd = fs.openSync(file, "w+", 0o600);
      const chunk = Buffer.allocUnsafe(64 * 1024);
      let pos = from;
      while (pos < this.#end) {
        const n = fs.readSync(this.#fd, chunk, 0, Math.min(chunk.length, this.#end - pos), pos);
        if (n === 0) break;
        let w = 0;
        while (w < n) w += fs.writeSync(fd, chunk, w, n - w);
        pos += n;
        out += n;
      }
      fs.fdatasyncSync(fd);
      this.#writeState({ gen, offset: this.#ackOffset - from, ackedSeq: this.#ackedSeq });
    } catch (err) {
      if (fd !== undefined) {
        try {
          fs.closeSync(fd);
          fs.unlinkSync(file);
        } catch {
          // A leftover copy is superseded at the next open (planOpen).
        }
      }
      this.#fail("compact", err);
      // Tried again on its own, so the problem clears once there is room even if no ack comes.
      this.#compactTimer = setTimeout(() => {
        this.#compactTimer = undefined;
        if (this.#compactionDue()) this.#compact();
        else this.#succeed("compact");
      }, this.#opts.retryMs).unref();
      return false;
    }
    this.#succeed("compact");
    const shift = from;
    const old = this.#fd;
    const oldFile = this.#file(this.#gen);
    this.#fd = fd;
    this.#gen = gen;
    this.#end = out;
    this.#ackOffset -= shift;
    if (this.#lastOffset !== undefined) this.#lastOffset -= shift;
    this.#entries = this.#entries
      .slice(this.#head)
      .map((e) => ({ ...e, offset: e.offset - shift }));
    this.#head = 0;
    try {
      fs.closeSync(old);
      fs.unlinkSync(oldFile);
    } catch {
      // The state names the new generation; planOpen removes the old one later.
    }
    return true;
  }

  #syncDir(): void {
    try {
      const fd = this.#fs.openSync(this.#opts.dir, "r");
      try {
        this.#fs.fsyncSync(fd);
      } finally {
        this.#fs.closeSync(fd);
      }
    } catch {
      // Some file systems refuse fsync on a directory; the rename is still atomic.
    }
  }

  /** Save the ack position (if the disk lets it) and close the file. */
  close(): void {
    this.#saveState();
    clearTimeout(this.#saveTimer);
    clearTimeout(this.#compactTimer);
    this.#saveTimer = undefined;
    this.#compactTimer = undefined;
    this.#fs.closeSync(this.#fd);
  }
}
