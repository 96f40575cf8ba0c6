/**
 * The status database, read side: what the HTTP status pages and the RPC
 * service show. Writes happen in the ingest commit, the presence scripts and
 * the scorer; nothing here changes state.
 */
import type { HostRecord, HostStore, Keys, Redis } from "../../store/index.js";
import type { BackupItem, EventItem, Metric } from "../ingest/items.js";
import type { RuleHit, ScoreState } from "../scoring/rules.js";

export interface HostSummary extends Omit<HostRecord, "score" | "scoreState"> {
  /** Badness score and its state; null until the host was first scored. */
  score: number | null;
  scoreState: ScoreState | null;
  /** Number of checks and how many are not ok. */
  checkCount: number;
  failingCount: number;
  /** Highest per-node sequence processed for this agent. */
  processedSeq: number;
}

export interface CheckView {
  name: string;
  state: string;
  output: string;
  longOutput: string;
  /** When the check entered its current state (ms). */
  since: number;
  lastChange: number;
  lastResult: number;
  lastSeq: number;
  flapping: boolean;
  flapPercent: number;
  metrics: Metric[];
  labels: Record<string, string>;
  /** Soft until `attempts` consecutive bad results, then hard (only hard changes alert). */
  stateType: "soft" | "hard";
  attempt: number;
  maxAttempts: number;
}

export interface ScoreView {
  score: number | null;
  state: ScoreState | null;
  breakdown: RuleHit[];
  scoredAt: number;
}

export interface StateChange {
  time: number;
  from: string | null;
  to: string;
  output: string;
  seq: number;
}

export interface HostDetail {
  host: HostSummary;
  checks: CheckView[];
  score: ScoreView;
}

export interface SeriesPoint {
  /** Time (ms); for averages, the start of the minute. */
  t: number;
  v: number;
}

const n = (v: string | undefined | null, fallback = 0) => (v ? Number(v) : fallback);

export class StatusReader {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly hosts: HostStore,
  ) {}

  /** Every known host with its score and check counts, most recently seen first. */
  async listHosts(): Promise<HostSummary[]> {
    const records = await this.hosts.list();
    const pipeline = this.redis.pipeline();
    for (const r of records) {
      pipeline.hmget(this.keys.host(r.jid), "score", "scoreState", "processedSeq");
      pipeline.hvals(this.keys.checks(r.jid));
    }
    const results = (await pipeline.exec()) ?? [];
    return records.map((r, i) => {
      const [score, scoreState, processedSeq] = (results[2 * i]?.[1] ?? []) as Array<string | null>;
      const states = (results[2 * i + 1]?.[1] ?? []) as string[];
      return summary(r, score, scoreState, processedSeq, states);
    });
  }

  async hostDetail(jid: string): Promise<HostDetail | undefined> {
    const bare = jid.toLowerCase();
    const record = await this.hosts.get(bare);
    const raw = await this.redis.hgetall(this.keys.host(bare));
    const names = Object.keys(await this.redis.hgetall(this.keys.checks(bare))).sort();
    if (!record && names.length === 0) return undefined;
    const pipeline = this.redis.pipeline();
    for (const name of names) pipeline.hgetall(this.keys.check(bare, name));
    const checks = ((await pipeline.exec()) ?? []).map(([, v]) =>
      checkView(v as Record<string, string>),
    );
    const base: HostRecord = record ?? {
      jid: bare,
      fullJid: "",
      host: bare.split("@")[0] ?? bare,
      online: false,
      state: "down",
      summary: "down: never seen",
      status: "",
      version: "",
      lastSeen: 0,
      since: 0,
      offlineReason: "",
    };
    return {
      host: summary(
        base,
        raw.score,
        raw.scoreState,
        raw.processedSeq,
        checks.map((c) => c.state),
      ),
      checks,
      score: scoreView(raw),
    };
  }

  async score(jid: string): Promise<ScoreView> {
    return scoreView(await this.redis.hgetall(this.keys.host(jid.toLowerCase())));
  }

  /** A check's state changes, newest first. */
  async checkHistory(jid: string, check: string, limit = 50): Promise<StateChange[]> {
    const rows = await this.redis.lrange(
      this.keys.checkHistory(jid.toLowerCase(), check),
      0,
      limit - 1,
    );
    return rows.map((r) => JSON.parse(r) as StateChange);
  }

  /** Recent events, newest first. */
  async events(jid: string, limit = 100): Promise<Array<Omit<EventItem, "kind">>> {
    const rows = await this.redis.lrange(this.keys.events(jid.toLowerCase()), 0, limit - 1);
    return rows.map((r) => JSON.parse(r));
  }

  /** Backup reports, newest first. */
  async backups(jid: string, limit = 50): Promise<Array<Omit<BackupItem, "kind">>> {
    const rows = await this.redis.lrange(this.keys.backups(jid.toLowerCase()), 0, limit - 1);
    return rows.map((r) => JSON.parse(r));
  }

  /** The metric series a host has, as "check/metric". */
  async metricSeriesNames(jid: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.metricSeries(jid.toLowerCase()))).sort();
  }

  /**
   * One series, oldest first: `raw` samples (kept 1 h by default) or `1m`
   * per-minute averages (kept 24 h).
   */
  async metricSeries(
    jid: string,
    series: string,
    options: { resolution?: "raw" | "1m"; from?: number; to?: number } = {},
  ): Promise<SeriesPoint[]> {
    const bare = jid.toLowerCase();
    const from = options.from ?? 0;
    const to = options.to ?? Number.MAX_SAFE_INTEGER;
    if ((options.resolution ?? "raw") === "raw") {
      const members = await this.redis.zrangebyscore(this.keys.metricRaw(bare, series), from, to);
      return members.map((m) => {
        const i = m.indexOf(":");
        return { t: Number(m.slice(0, i)), v: Number(m.slice(i + 1)) };
      });
    }
    const agg = await this.redis.hgetall(this.keys.metricAgg(bare, series));
    const points: SeriesPoint[] = [];
    for (const [field, sum] of Object.entries(agg)) {
      if (!field.endsWith(":s")) continue;
      const minute = Number(field.slice(0, -2));
      const count = Number(agg[`${minute}:n`] ?? 0);
      if (count > 0 && minute >= from && minute <= to)
        points.push({ t: minute, v: Number(sum) / count });
    }
    return points.sort((a, b) => a.t - b.t);
  }
}

function summary(
  r: HostRecord,
  score: string | null | undefined,
  scoreState: string | null | undefined,
  processedSeq: string | null | undefined,
  states: string[],
): HostSummary {
  return {
    ...r,
    score: score ? Number(score) : null,
    scoreState: (scoreState as ScoreState | null | undefined) ?? null,
    checkCount: states.length,
    failingCount: states.filter((s) => s !== "ok").length,
    processedSeq: n(processedSeq),
  };
}

function checkView(h: Record<string, string>): CheckView {
  const parse = <T>(s: string | undefined, fallback: T): T => {
    try {
      return s ? (JSON.parse(s) as T) : fallback;
    } catch {
      return fallback;
    }
  };
  return {
    name: h.name ?? "",
    state: h.state ?? "unknown",
    output: h.output ?? "",
    longOutput: h.longOutput ?? "",
    since: n(h.since),
    lastChange: n(h.lastChange),
    lastResult: n(h.lastResult),
    lastSeq: n(h.lastSeq),
    flapping: h.flapping === "1",
    flapPercent: n(h.flapPercent),
    metrics: parse(h.metrics, [] as Metric[]),
    labels: parse(h.labels, {} as Record<string, string>),
    stateType: h.stateType === "soft" ? "soft" : "hard",
    attempt: n(h.attempt),
    maxAttempts: n(h.maxAttempts, 1),
  };
}

function scoreView(raw: Record<string, string>): ScoreView {
  let breakdown: RuleHit[] = [];
  try {
    breakdown = raw.scoreBreakdown ? (JSON.parse(raw.scoreBreakdown) as RuleHit[]) : [];
  } catch {}
  return {
    score: raw.score ? Number(raw.score) : null,
    state: (raw.scoreState as ScoreState | undefined) ?? null,
    breakdown,
    scoredAt: n(raw.scoredAt),
  };
}
