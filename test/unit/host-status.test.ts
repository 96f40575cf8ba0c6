import { describe, expect, it } from "vitest";
import { summarise } from "../../src/agent/index.js";
import {
  type CheckTally,
  deriveHostStatus,
  describeChecks,
  tallyFromHash,
  worseState,
} from "../../src/protocol/index.js";

const tally = (t: Partial<CheckTally>): CheckTally => ({
  count: 0,
  critical: 0,
  warning: 0,
  unknown: 0,
  failing: [],
  ...t,
});

describe("deriveHostStatus", () => {
  it("is down when offline, whatever the checks and score say", () => {
    const s = deriveHostStatus({
      online: false,
      offlineReason: "stale",
      presenceState: "ok",
      checks: tally({ count: 3 }),
      scoreState: "ok",
    });
    expect(s).toEqual({ state: "down", summary: "down: stale", cause: "connection" });
    expect(deriveHostStatus({ online: false }).summary).toBe("down: offline");
  });

  it("is critical when a passive check is critical though the agent and the score say ok", () => {
    const s = deriveHostStatus({
      online: true,
      presenceState: "ok",
      checks: tally({ count: 3, critical: 1, failing: ["webcheck"] }),
      scoreState: "ok",
      score: 4,
    });
    expect(s).toEqual({
      state: "critical",
      summary: "1 of 3 checks critical: webcheck",
      cause: "checks",
    });
  });

  it("takes the score's state when it is worse than every check", () => {
    const s = deriveHostStatus({
      online: true,
      presenceState: "ok",
      checks: tally({ count: 2, warning: 1, failing: ["disk"] }),
      scoreState: "critical",
      score: 12,
    });
    expect(s.state).toBe("critical");
    expect(s.cause).toBe("score");
    expect(s.summary).toBe("badness score 12 is critical");
  });

  it("takes the agent's presence when it is worse (results not processed yet)", () => {
    const s = deriveHostStatus({
      online: true,
      presenceState: "warning",
      checks: tally({ count: 2 }),
      scoreState: "ok",
    });
    expect(s).toEqual({
      state: "warning",
      summary: "the agent reports warning",
      cause: "presence",
    });
  });

  it("explains a tie by the checks first", () => {
    const s = deriveHostStatus({
      online: true,
      presenceState: "critical",
      checks: tally({ count: 1, critical: 1, failing: ["http"] }),
      scoreState: "critical",
      score: 10,
    });
    expect(s.cause).toBe("checks");
    expect(s.summary).toBe("1 of 1 check critical: http");
  });

  it("ranks warning above unknown (as Nagios)", () => {
    const s = deriveHostStatus({
      online: true,
      checks: tally({ count: 4, warning: 1, unknown: 2, failing: ["a", "b", "c"] }),
    });
    expect(s.state).toBe("warning");
    expect(s.summary).toBe("3 of 4 checks failing (1 warning, 2 unknown): a, b, c");
    expect(worseState("unknown", "warning")).toBe("warning");
    expect(worseState("warning", "unknown")).toBe("warning");
    expect(worseState("ok", "bogus")).toBe("unknown");
    expect(worseState("critical", undefined)).toBe("critical");
  });

  it("says ok with the checks' words when everything is ok", () => {
    expect(
      deriveHostStatus({
        online: true,
        presenceState: "ok",
        checks: tally({ count: 3 }),
        scoreState: "ok",
      }),
    ).toEqual({ state: "ok", summary: "all 3 checks ok", cause: "checks" });
  });

  it("is unknown with no data at all, and an unknown presence state counts as unknown", () => {
    expect(deriveHostStatus({ online: true }).state).toBe("unknown");
    expect(deriveHostStatus({ online: true, presenceState: "weird" }).state).toBe("unknown");
  });

  it("marks a truncated list of failing names", () => {
    expect(describeChecks(tally({ count: 9, critical: 7, failing: ["a", "b"] }))).toBe(
      "7 of 9 checks critical: a, b, …",
    );
    expect(describeChecks(tally({}))).toBe("no checks");
  });
});

describe("tallyFromHash", () => {
  it("reads the fields the commit stores, and nothing before the first result", () => {
    expect(tallyFromHash({ jid: "a@b" })).toBeUndefined();
    expect(
      tallyFromHash({
        checkCount: "3",
        checkCritical: "1",
        checkWarning: "0",
        checkUnknown: "1",
        checkFailing: '["webcheck","x\\/y"]',
      }),
    ).toEqual({ count: 3, critical: 1, warning: 0, unknown: 1, failing: ["webcheck", "x/y"] });
    expect(tallyFromHash({ checkCount: "1", checkFailing: "{" })?.failing).toEqual([]);
  });
});

describe("the agent's summary", () => {
  it("counts a passive result and names it, in the monitor's words", () => {
    const s = summarise(
      [
        { state: "ok", text: "load 0.1" },
        { state: "ok", text: "disk / 10%" },
        { state: "critical", text: "webcheck" },
      ],
      "vm",
    );
    expect(s.state).toBe("critical");
    expect(s.summary).toBe("1 of 3 checks critical: webcheck");
    expect(s.failing).toBe(1);
    expect(summarise([{ state: "ok", text: "x" }], "vm").summary).toBe("all 1 check ok");
  });
});
