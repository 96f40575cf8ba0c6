/**
 * Badness scoring, SpamAssassin-like: each rule is a CEL expression over the
 * host's current data with a weight; a host's score is the sum of the weights
 * of the rules that match, and thresholds map the score to ok / warning /
 * critical. CEL (@marcbachmann/cel-js) is parsed and type-checked at load time
 * and never reaches eval or `Function` (node20-notes.md has the comparison).
 *
 * https://github.com/google/cel-spec
 */
import { readFileSync } from "node:fs";
import { Environment } from "@marcbachmann/cel-js";
import yaml from "js-yaml";

export type ScoreState = "ok" | "warning" | "critical";

export interface Rule {
  name: string;
  expression: string;
  weight: number;
  description: string;
  evaluate: (context: ScoreContext) => unknown;
}

export interface Thresholds {
  warning: number;
  critical: number;
}

export interface RuleSet {
  rules: Rule[];
  thresholds: Thresholds;
  source: string;
}

export class RuleError extends Error {
  override name = "RuleError";
}

/** What a rule sees. Numbers are doubles except the counts (CEL int). See docs/monitor.md. */
export interface ScoreContext {
  host: {
    jid: string;
    name: string;
    online: boolean;
    /** Seconds since the host went offline (0 when online). */
    down_seconds: number;
    offline_reason: string;
    /** What the agent itself reports (ok/warning/critical/unknown), "down" when offline. */
    state: string;
    version: string;
    /** From a metric named "cpus" on any check; 1 when none. */
    cpus: number;
  };
  checks: Record<
    string,
    {
      state: string;
      output: string;
      age_seconds: number;
      flapping: boolean;
      metrics: Record<string, number>;
    }
  >;
  metrics: Array<{
    check: string;
    name: string;
    value: number;
    uom: string;
    warn: number;
    crit: number;
    max: number;
    /** What the metric's own thresholds say of its value. */
    level: "ok" | "warning" | "critical";
  }>;
  events: Array<{
    type: string;
    severity: string;
    tag: string;
    path: string;
    text: string;
    count: number;
    age_seconds: number;
  }>;
  backups: Array<{ job: string; status: string; age_seconds: number; size_bytes: number }>;
  failing: bigint;
  critical: bigint;
  warning: bigint;
  unknown: bigint;
}

export interface RuleHit {
  rule: string;
  weight: number;
  description: string;
}

export interface ScoreResult {
  score: number;
  state: ScoreState;
  /** Each matching rule and its contribution. */
  breakdown: RuleHit[];
  /** Rules that failed to evaluate (e.g. a missing map key): counted as not matching. */
  errors: Array<{ rule: string; error: string }>;
}

export const DEFAULT_THRESHOLDS: Thresholds = { warning: 5, critical: 10 };

function environment(): Environment {
  return new Environment({ unlistedVariablesAreDyn: false })
    .registerVariable("host", "map")
    .registerVariable("checks", "map")
    .registerVariable("metrics", "list")
    .registerVariable("events", "list")
    .registerVariable("backups", "list")
    .registerVariable("failing", "int")
    .registerVariable("critical", "int")
    .registerVariable("warning", "int")
    .registerVariable("unknown", "int");
}

const RULE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Parse and type-check a rules document. Errors name the rule and the reason. */
export function parseRules(text: string, source = "rules"): RuleSet {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    throw new RuleError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new RuleError(`${source}: expected a mapping with 'rules' (and optional 'thresholds')`);
  const { rules: rawRules, thresholds: rawThresholds } = doc as Record<string, unknown>;
  if (!Array.isArray(rawRules)) throw new RuleError(`${source}: 'rules' must be a list`);

  const thresholds = { ...DEFAULT_THRESHOLDS };
  if (rawThresholds !== undefined) {
    const t = rawThresholds as Record<string, unknown>;
    for (const k of ["warning", "critical"] as const) {
      if (t[k] === undefined) continue;
      if (typeof t[k] !== "number" || !Number.isFinite(t[k]))
        throw new RuleError(`${source}: thresholds.${k} must be a number`);
      thresholds[k] = t[k];
    }
    if (thresholds.critical < thresholds.warning)
      throw new RuleError(`${source}: thresholds.critical must be at least thresholds.warning`);
  }

  const env = environment();
  const seen = new Set<string>();
  const rules: Rule[] = rawRules.map((raw, index) => {
    const r = (raw ?? {}) as Record<string, unknown>;
    const label = typeof r.name === "string" ? `rule '${r.name}'` : `rule #${index + 1}`;
    const fail = (reason: string): never => {
      throw new RuleError(`${source}: ${label}: ${reason}`);
    };
    if (typeof r.name !== "string" || !RULE_NAME.test(r.name))
      fail("name must be letters, digits, '_', '.' or '-' (at most 64), starting with a letter");
    const name = r.name as string;
    if (seen.has(name)) fail("duplicate name");
    seen.add(name);
    const expression = r.expr ?? r.expression;
    if (typeof expression !== "string" || expression.trim() === "")
      fail("'expr' must be a non-empty CEL expression");
    if (typeof r.weight !== "number" || !Number.isFinite(r.weight))
      fail("'weight' must be a number");
    if (r.description !== undefined && typeof r.description !== "string")
      fail("'description' must be text");
    const checked = env.check(expression as string);
    if (!checked.valid) fail(`invalid expression: ${firstLine(checked.error?.message)}`);
    if (checked.type !== "bool" && checked.type !== "dyn")
      fail(`expression must be a condition (bool), not ${checked.type}`);
    const program = env.parse(expression as string);
    return {
      name,
      expression: expression as string,
      weight: r.weight as number,
      description: (r.description as string | undefined) ?? name,
      evaluate: (context: ScoreContext) => program(context as never),
    };
  });
  return { rules, thresholds, source };
}

export function loadRules(file: string): RuleSet {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new RuleError(`cannot read rules file ${file}: ${(err as Error).message}`);
  }
  return parseRules(text, file);
}

function firstLine(message: string | undefined): string {
  return (message ?? "unknown error").split("\n")[0] ?? "";
}

export function stateForScore(score: number, thresholds: Thresholds): ScoreState {
  if (score >= thresholds.critical) return "critical";
  if (score >= thresholds.warning) return "warning";
  return "ok";
}

/** Sum of the weights of the matching rules. Pure: the context carries all data. */
export function scoreHost(ruleSet: RuleSet, context: ScoreContext): ScoreResult {
  const breakdown: RuleHit[] = [];
  const errors: ScoreResult["errors"] = [];
  let score = 0;
  for (const rule of ruleSet.rules) {
    let result: unknown;
    try {
      result = rule.evaluate(context);
    } catch (err) {
      errors.push({ rule: rule.name, error: firstLine((err as Error).message) });
      continue;
    }
    if (result === true) {
      score += rule.weight;
      breakdown.push({ rule: rule.name, weight: rule.weight, description: rule.description });
    } else if (result !== false) {
      errors.push({ rule: rule.name, error: "did not evaluate to true or false" });
    }
  }
  score = Math.round(score * 1000) / 1000;
  return { score, state: stateForScore(score, ruleSet.thresholds), breakdown, errors };
}
