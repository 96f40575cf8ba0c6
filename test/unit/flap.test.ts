import { describe, expect, it } from "vitest";
import { isFlapping, percentStateChange } from "../../src/monitor/ingest/flap.js";

describe("percent state change (Nagios flap detection)", () => {
  it("is 0 for a steady check", () => {
    expect(percentStateChange(Array(21).fill("ok"))).toBe(0);
  });

  it("is 100 for a check that changes on every one of 21 results", () => {
    const states = Array.from({ length: 21 }, (_, i) => (i % 2 ? "critical" : "ok"));
    // Weights run from 0.75 to 1.25 across the 20 changes; their mean is 1.
    expect(percentStateChange(states)).toBeCloseTo(100, 6);
  });

  it("weights a recent change more than an old one", () => {
    const old = ["critical", ...Array(20).fill("ok")];
    const recent = [...Array(20).fill("ok"), "critical"];
    expect(percentStateChange(old)).toBeCloseTo(3.75, 6);
    expect(percentStateChange(recent)).toBeCloseTo(6.25, 6);
  });

  it("counts a short history as the newest part of a steady window", () => {
    expect(percentStateChange(["ok", "critical"])).toBeCloseTo(6.25, 6);
    expect(percentStateChange(["ok"])).toBe(0);
  });

  it("only looks at the last 21 results", () => {
    const flappyThenSteady = [
      ...Array.from({ length: 30 }, (_, i) => (i % 2 ? "critical" : "ok")),
      ...Array(21).fill("ok"),
    ];
    expect(percentStateChange(flappyThenSteady)).toBe(0);
  });

  it("starts flapping at the high threshold and stops only below the low one", () => {
    expect(isFlapping(19.9, false)).toBe(false);
    expect(isFlapping(20, false)).toBe(true);
    expect(isFlapping(10, true)).toBe(true);
    expect(isFlapping(4.9, true)).toBe(false);
    expect(isFlapping(10, true, { high: 50, low: 30 })).toBe(false);
  });

  it("detects alternating results within a few changes", () => {
    const states: string[] = [];
    let detectedAt = -1;
    let flapping = false;
    for (let i = 0; i < 20; i++) {
      states.push(i % 2 ? "critical" : "ok");
      flapping = isFlapping(percentStateChange(states), flapping);
      if (flapping && detectedAt < 0) detectedAt = i;
    }
    expect(detectedAt).toBeGreaterThan(1);
    expect(detectedAt).toBeLessThan(6);
  });
});
