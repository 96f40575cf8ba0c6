import { describe, expect, it } from "vitest";
import { defaultRulesFile } from "../../src/monitor/monitor.js";
import {
  loadRules,
  parseRules,
  RuleError,
  type ScoreContext,
  scoreHost,
} from "../../src/monitor/scoring/rules.js";

function context(overrides: Partial<ScoreContext> = {}): ScoreContext {
  return {
    host: {
      jid: "web01@localhost",
      name: "web01",
      online: true,
      down_seconds: 0,
      offline_reason: "",
      state: "ok",
      version: "0.1.0",
      cpus: 4,
    },
    checks: {},
    metrics: [],
    events: [],
    backups: [],
    failing: 0n,
    critical: 0n,
    warning: 0n,
    unknown: 0n,
    ...overrides,
  };
}

const metric = (check: string, name: string, value: number, uom = "") => ({
  check,
  name,
  value,
  uom,
  warn: -1,
  crit: -1,
  max: -1,
});

describe("rule loading", () => {
  it("loads the packaged default rule set", () => {
    const rules = loadRules(defaultRulesFile());
    expect(rules.rules.length).toBeGreaterThanOrEqual(10);
    expect(rules.rules.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        "host_down",
        "disk_nearly_full",
        "load_high_per_cpu",
        "backup_failed",
      ]),
    );
    expect(rules.thresholds).toEqual({ warning: 5, critical: 10 });
  });

  it("names the rule and the reason for a syntax error", () => {
    const text = `rules:\n  - name: ok_rule\n    expr: "failing > 0"\n    weight: 1\n  - name: broken\n    expr: "metrics.exists(m, m.value >="\n    weight: 2\n`;
    expect(() => parseRules(text, "my.yml")).toThrow(RuleError);
    expect(() => parseRules(text, "my.yml")).toThrow(/my\.yml: rule 'broken': invalid expression/);
  });

  it("rejects an unknown variable, a non-boolean expression, a bad weight and a duplicate", () => {
    const rule = (name: string, expr: string, weight: unknown = 1) =>
      `rules:\n  - name: ${name}\n    expr: ${JSON.stringify(expr)}\n    weight: ${JSON.stringify(weight)}\n`;
    expect(() => parseRules(rule("nope", "cpu_load > 1"))).toThrow(
      /rule 'nope': invalid expression.*cpu_load/,
    );
    expect(() => parseRules(rule("count", "failing + 1"))).toThrow(/rule 'count': .*bool.*int/);
    expect(() => parseRules(rule("w", "failing > 1", "heavy"))).toThrow(
      /rule 'w': 'weight' must be a number/,
    );
    const dup = `rules:\n  - {name: a, expr: "failing > 0", weight: 1}\n  - {name: a, expr: "failing > 1", weight: 1}\n`;
    expect(() => parseRules(dup)).toThrow(/rule 'a': duplicate name/);
    expect(() => parseRules("rules: 3")).toThrow(/'rules' must be a list/);
  });
});

describe("scoring", () => {
  const rules = loadRules(defaultRulesFile());

  it("scores a healthy host 0 and ok", () => {
    const result = scoreHost(rules, context({ metrics: [metric("disk_root", "/", 40, "%")] }));
    expect(result).toMatchObject({ score: 0, state: "ok", breakdown: [] });
  });

  it("scores a nearly full disk and high load as critical, with each rule's contribution", () => {
    const result = scoreHost(
      rules,
      context({
        metrics: [metric("disk_var", "/var", 98, "%"), metric("load", "load5", 12.5)],
        checks: {
          disk_var: { state: "critical", output: "", age_seconds: 1, flapping: false, metrics: {} },
          load: { state: "warning", output: "", age_seconds: 1, flapping: false, metrics: {} },
        },
        failing: 2n,
        critical: 1n,
        warning: 1n,
      }),
    );
    expect(result.state).toBe("critical");
    const byRule = Object.fromEntries(result.breakdown.map((h) => [h.rule, h.weight]));
    expect(byRule).toEqual({
      disk_nearly_full: 4,
      disk_full: 4,
      load_high_per_cpu: 3,
      check_critical: 2,
      check_warning: 1,
    });
    expect(result.score).toBe(14);
  });

  it("counts log errors in a time window and backup age", () => {
    const recentErrors = Array.from({ length: 12 }, () => ({
      type: "log",
      severity: "warning",
      tag: "",
      path: "/var/log/syslog",
      text: "error",
      count: 1,
      age_seconds: 30,
    }));
    const old = recentErrors.map((e) => ({ ...e, age_seconds: 3600 }));
    const hits = (ctx: ScoreContext) => scoreHost(rules, ctx).breakdown.map((h) => h.rule);
    expect(hits(context({ events: recentErrors }))).toContain("log_error_burst");
    expect(hits(context({ events: old }))).not.toContain("log_error_burst");
    expect(
      hits(
        context({ backups: [{ job: "db", status: "ok", age_seconds: 200_000, size_bytes: 1 }] }),
      ),
    ).toEqual(["backup_too_old"]);
  });

  it("maps a down host to critical", () => {
    const ctx = context();
    ctx.host.online = false;
    expect(scoreHost(rules, ctx).state).toBe("critical");
  });

  it("treats a rule that fails at run time as not matching and reports it", () => {
    const set = parseRules(
      `rules:\n  - {name: disk, expr: "checks.disk.state == 'critical'", weight: 5}\n`,
    );
    const result = scoreHost(set, context());
    expect(result.score).toBe(0);
    expect(result.errors[0]?.rule).toBe("disk");
  });
});
