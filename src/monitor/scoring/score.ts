/**
 * Scores hosts: gathers a host's current data from the status database into
 * the rule context (rules.ts), evaluates the rule set and stores the score,
 * the state and each matching rule's contribution, adding a score alert when
 * the state changes (setScore script).
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "../../log/index.js";
import { parseNagiosRange, rangeBound, violatesRange } from "../../protocol/index.js";
import {
  defineScripts,
  type Keys,
  type PipelineReplies,
  pipelineReply,
  type Redis,
} from "../../store/index.js";
import { alertFields } from "../alerts/record.js";
import type { Metric } from "../ingest/items.js";
import { SET_SCORE } from "../scripts.js";
import { type RuleSet, type ScoreContext, type ScoreResult, scoreHost } from "./rules.js";

type ScriptedRedis = Redis & {
  setScore(k1: string, k2: string, k3: string, ...argv: string[]): Promise<string>;
};

/**
 * The number a stored threshold alerts beyond, −1 when there is none. Results
 * stored before thresholds were kept as Nagios ranges hold plain numbers.
 */
function thresholdBound(threshold: string | number | undefined): number {
  if (typeof threshold === "number") return threshold;
  const range = threshold === undefined ? undefined : parseNagiosRange(threshold);
  return (range && rangeBound(range)) ?? -1;
}

/** The state a metric's own thresholds give its value, as the plugin's would. */
function thresholdLevel(m: Metric): "ok" | "warning" | "critical" {
  const beyond = (threshold: string | number | undefined) => {
    const range =
      typeof threshold === "number"
        ? { start: 0, end: threshold, inside: false }
        : threshold === undefined
          ? undefined
          : parseNagiosRange(threshold);
    return range !== undefined && violatesRange(range, m.value);
  };
  if (beyond(m.crit)) return "critical";
  return beyond(m.warn) ? "warning" : "ok";
}

/** Events older than this are not given to rules. */
const EVENT_HORIZON_MS = 86_400_000;

/** Gathers several hosts' rule contexts in two round trips. */
export async function buildScoreContexts(
  redis: Redis,
  keys: Keys,
  jids: string[],
  now = Date.now(),
): Promise<ScoreContext[]> {
  const first = redis.pipeline();
  for (const jid of jids) {
    first.hgetall(keys.host(jid));
    first.hgetall(keys.checks(jid));
    first.lrange(keys.events(jid), 0, -1);
    first.hgetall(keys.backupLatest(jid));
  }
  const stored = ((await first.exec()) ?? []) as PipelineReplies;
  const second = redis.pipeline();
  const names = jids.map((jid, j) => {
    const checkStates = pipelineReply(stored, 4 * j + 1) as Record<string, string>;
    const list = Object.keys(checkStates);
    for (const name of list)
      second.hmget(keys.check(jid, name), "state", "output", "lastResult", "flapping", "metrics");
    return list;
  });
  const details = names.some((list) => list.length > 0)
    ? (((await second.exec()) ?? []) as PipelineReplies)
    : [];
  let d = 0;
  return jids.map((jid, j) => {
    return toScoreContext(
      jid,
      pipelineReply(stored, 4 * j) as Record<string, string>,
      pipelineReply(stored, 4 * j + 1) as Record<string, string>,
      (names[j] ?? []).map(() => pipelineReply(details, d++) as Array<string | null>),
      pipelineReply(stored, 4 * j + 2) as string[],
      pipelineReply(stored, 4 * j + 3) as Record<string, string>,
      now,
    );
  });
}

function toScoreContext(
  jid: string,
  host: Record<string, string>,
  checkStates: Record<string, string>,
  details: Array<Array<string | null>>,
  events: string[],
  backups: Record<string, string>,
  now: number,
): ScoreContext {
  const names = Object.keys(checkStates);
  const context: ScoreContext = {
    host: {
      jid,
      name: host.host || jid.split("@")[0] || jid,
      online: host.online === "1",
      down_seconds: host.online === "1" ? 0 : Math.max(0, (now - Number(host.since ?? now)) / 1000),
      offline_reason: host.offlineReason ?? "",
      state: host.online === "1" ? (host.state ?? "unknown") : "down",
      version: host.version ?? "",
      cpus: 1,
    },
    checks: {},
    metrics: [],
    events: [],
    backups: [],
    failing: 0n,
    critical: 0n,
    warning: 0n,
    unknown: 0n,
  };
  names.forEach((name, i) => {
    const [state, output, lastResult, flapping, metricsJson] = details[i] ?? [];
    const s = state ?? checkStates[name] ?? "unknown";
    let metrics: Metric[] = [];
    try {
      metrics = JSON.parse(metricsJson ?? "[]") as Metric[];
    } catch {}
    const byName: Record<string, number> = {};
    for (const m of metrics) {
      byName[m.name] = m.value;
      if (m.name === "cpus" && m.value > 0) context.host.cpus = m.value;
      context.metrics.push({
        check: name,
        name: m.name,
        value: m.value,
        uom: m.uom ?? "",
        warn: thresholdBound(m.warn),
        crit: thresholdBound(m.crit),
        max: m.max ?? -1,
        level: thresholdLevel(m),
      });
    }
    context.checks[name] = {
      state: s,
      output: output ?? "",
      age_seconds: Math.max(0, (now - Number(lastResult ?? now)) / 1000),
      flapping: flapping === "1",
      metrics: byName,
    };
    if (s !== "ok") context.failing++;
    if (s === "critical") context.critical++;
    else if (s === "warning") context.warning++;
    else if (s === "unknown") context.unknown++;
  });
  for (const raw of events) {
    try {
      const e = JSON.parse(raw) as Record<string, unknown>;
      const time = Number(e.time ?? 0);
      if (now - time > EVENT_HORIZON_MS) continue;
      context.events.push({
        type: String(e.type ?? ""),
        severity: String(e.severity ?? "info"),
        tag: String(e.tag ?? ""),
        path: String(e.path ?? ""),
        text: String(e.text ?? ""),
        count: Number(e.count ?? 1),
        age_seconds: Math.max(0, (now - time) / 1000),
      });
    } catch {}
  }
  for (const raw of Object.values(backups)) {
    try {
      const b = JSON.parse(raw) as Record<string, unknown>;
      context.backups.push({
        job: String(b.job ?? ""),
        status: String(b.status ?? ""),
        age_seconds: Math.max(0, (now - Number(b.time ?? 0)) / 1000),
        size_bytes: Number(b.sizeBytes ?? -1),
      });
    } catch {}
  }
  return context;
}

export class Scorer {
  readonly #redis: ScriptedRedis;
  readonly #keys: Keys;
  readonly #log: Logger;
  readonly #outboxMax: number;
  #rules: RuleSet;

  constructor(redis: Redis, keys: Keys, rules: RuleSet, log: Logger, outboxMax = 100_000) {
    this.#redis = defineScripts<ScriptedRedis>(redis, { setScore: SET_SCORE });
    this.#keys = keys;
    this.#rules = rules;
    this.#log = log;
    this.#outboxMax = outboxMax;
  }

  get rules(): RuleSet {
    return this.#rules;
  }

  /** Swap the rule set (e.g. after the rules file changed). */
  setRules(rules: RuleSet): void {
    this.#rules = rules;
  }

  /** Score one host now and store the result. */
  async rescore(jid: string, now = Date.now()): Promise<ScoreResult> {
    const [result] = await this.rescoreMany([jid], now);
    return result as ScoreResult;
  }

  /** Score hosts now and store the results: three round trips however many. */
  async rescoreMany(jids: string[], now = Date.now()): Promise<ScoreResult[]> {
    if (jids.length === 0) return [];
    const contexts = await buildScoreContexts(this.#redis, this.#keys, jids, now);
    const pipeline = this.#redis.pipeline() as ReturnType<Redis["pipeline"]> & {
      setScore(k1: string, k2: string, k3: string, ...argv: string[]): unknown;
    };
    const results = contexts.map((context, j) => {
      const jid = jids[j] as string;
      const result = scoreHost(this.#rules, context);
      if (result.errors.length > 0)
        this.#log.debug({ jid, errors: result.errors }, "some rules could not be evaluated");
      const top = result.breakdown
        .slice()
        .sort((a, b) => b.weight - a.weight)
        .slice(0, 3)
        .map((h) => h.rule)
        .join(", ");
      pipeline.setScore(
        this.#keys.host(jid),
        this.#keys.alertOutbox(),
        this.#keys.changes(),
        String(result.score),
        result.state,
        JSON.stringify(result.breakdown),
        String(now),
        String(this.#outboxMax),
        ...alertFields({
          id: randomUUID(),
          kind: "score",
          jid,
          host: context.host.name,
          check: "",
          state: result.state,
          text: `score ${result.score}${top ? ` (${top})` : ""}`,
          time: now,
        }),
      );
      return result;
    });
    const replies = ((await pipeline.exec()) ?? []) as PipelineReplies;
    for (let i = 0; i < replies.length; i++) pipelineReply(replies, i);
    return results;
  }
}
