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
 * power cut. The ack position lives in state.json, replaced by atomic rename
 * and saved at most every `stateSaveMs` without fsync: losing it only means
 * re-sending items the service already has, and the service is idempotent on
 * seq. Files: `spool.<generation>.log` and `state.json`; compaction copies the
 * unacknowledged tail into the next generation and switches by renaming
 * state.json.
 */
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";

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
  /** Where a brand-new spool starts numbering (default: the current time in ms). */
  firstSeq?: () => number;
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

export interface Recovery {
  records: number;
  truncatedBytes: number;
}

export class Spool {
  readonly #opts: Required<SpoolOptions>;
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
  #saveTimer: NodeJS.Timeout | undefined;
  readonly recovery: Recovery;

  private constructor(opts: Required<SpoolOptions>, state: State) {
    this.#opts = opts;
    this.#gen = state.gen;
    const file = this.#file(state.gen);
    for (const name of readdirSync(opts.dir)) {
      if (/^spool\.\d+\.log$/.test(name) && name !== `spool.${state.gen}.log`)
        unlinkSync(join(opts.dir, name));
    }
    this.#fd = openSync(file, "a+", 0o600);
    const size = fstatSync(this.#fd).size;
    // A state older than a compaction can point past the end: the seq filter below still holds.
    const start = state.offset <= size ? state.offset : 0;
    const buf = size > start ? readFileSync(file).subarray(start) : Buffer.alloc(0);
    const { records, validBytes } = decodeRecords(buf, start, false);
    const truncatedBytes = size - start - validBytes;
    if (truncatedBytes > 0) {
      ftruncateSync(this.#fd, start + validBytes);
      fdatasyncSync(this.#fd);
    }
    this.#end = start + validBytes;
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
    this.recovery = { records: this.#entries.length, truncatedBytes };
  }

  static open(options: SpoolOptions): Spool {
    const opts: Required<SpoolOptions> = {
      compactBytes: 1 << 20,
      stateSaveMs: 2000,
      firstSeq: Date.now,
      ...options,
    };
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    let state: State = { gen: 0, offset: 0, ackedSeq: 0 };
    try {
      const parsed = JSON.parse(readFileSync(join(opts.dir, "state.json"), "utf8")) as State;
      if (
        Number.isSafeInteger(parsed.gen) &&
        Number.isSafeInteger(parsed.offset) &&
        Number.isSafeInteger(parsed.ackedSeq)
      )
        state = parsed;
    } catch {
      // No state yet (first start) or unreadable: start from the file's beginning.
    }
    return new Spool(opts, state);
  }

  #file(gen: number): string {
    return join(this.#opts.dir, `spool.${gen}.log`);
  }

  /** The sequence number the next append will get. */
  get nextSeq(): number {
    return this.#nextSeq;
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

  /**
   * Assign the next sequence number, build the payload with it, append it and
   * (with fsync: always) make it durable. Returns the sequence number.
   */
  append(payloadFor: (seq: number) => string, timeMs: number): number {
    const seq = this.#nextSeq;
    const record = encodeRecord(seq, timeMs, Buffer.from(payloadFor(seq), "utf8"));
    try {
      let written = 0;
      while (written < record.length) written += writeSync(this.#fd, record, written);
      if (this.#opts.fsync === "always") fdatasyncSync(this.#fd);
    } catch (err) {
      // A partial record (disk full) must not stay in front of the next append.
      try {
        ftruncateSync(this.#fd, this.#end);
      } catch {
        // Recovery truncates a torn tail anyway.
      }
      throw err;
    }
    this.#entries.push({ seq, timeMs, offset: this.#end, size: record.length });
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
      const n = readSync(this.#fd, buf, got, buf.length - got, entry.offset + HEADER_BYTES + got);
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
    if (this.#ackOffset >= this.#opts.compactBytes && this.#ackOffset * 2 >= this.#end) {
      this.#compact();
      return;
    }
    this.#stateDirty = true;
    const wait = this.#lastSave + this.#opts.stateSaveMs - Date.now();
    if (wait <= 0) this.#saveState();
    else this.#saveTimer ??= setTimeout(() => this.#saveState(), wait).unref();
  }

  #saveState(): void {
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    if (!this.#stateDirty) return;
    this.#writeState({ gen: this.#gen, offset: this.#ackOffset, ackedSeq: this.#ackedSeq });
  }

  #writeState(state: State, sync = false): void {
    const tmp = join(this.#opts.dir, "state.json.tmp");
    writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
    if (sync) {
      const fd = openSync(tmp, "r");
      fsyncSync(fd);
      closeSync(fd);
    }
    renameSync(tmp, join(this.#opts.dir, "state.json"));
    this.#stateDirty = false;
    this.#lastSave = Date.now();
  }

  /** Copy the unacknowledged tail into the next generation and switch to it. */
  #compact(): void {
    const gen = this.#gen + 1;
    const file = this.#file(gen);
    const fd = openSync(file, "w+", 0o600);
    const chunk = Buffer.allocUnsafe(64 * 1024);
    let pos = this.#ackOffset;
    let out = 0;
    while (pos < this.#end) {
      const n = readSync(this.#fd, chunk, 0, Math.min(chunk.length, this.#end - pos), pos);
      if (n === 0) break;
      let w = 0;
      while (w < n) w += writeSync(fd, chunk, w, n - w);
      pos += n;
      out += n;
    }
    fdatasyncSync(fd);
    const shift = this.#ackOffset;
    this.#writeState({ gen, offset: 0, ackedSeq: this.#ackedSeq }, true);
    this.#syncDir();
    closeSync(this.#fd);
    unlinkSync(this.#file(this.#gen));
    this.#fd = fd;
    this.#gen = gen;
    this.#end = out;
    this.#ackOffset = 0;
    this.#entries = this.#entries
      .slice(this.#head)
      .map((e) => ({ ...e, offset: e.offset - shift }));
    this.#head = 0;
  }

  #syncDir(): void {
    try {
      const fd = openSync(this.#opts.dir, "r");
      fsyncSync(fd);
      closeSync(fd);
    } catch {
      // Some file systems refuse fsync on a directory; the rename is still atomic.
    }
  }

  /** Save the ack position and close the file. */
  close(): void {
    this.#saveState();
    closeSync(this.#fd);
  }
}
