import { describe, expect, it } from "vitest";
import { checkParams, type MethodSpec, parseDuration, RpcFault } from "../../src/rpc/index.js";

const spec: MethodSpec = {
  name: "check.run",
  access: "admin",
  params: [
    { name: "jid", type: "string" },
    { name: "check", type: "string" },
    { name: "expiry", type: "int", optional: true },
  ],
  help: "",
  handler: () => null,
};

function faultOf(fn: () => void): RpcFault {
  try {
    fn();
  } catch (err) {
    if (err instanceof RpcFault) return err;
    throw err;
  }
  throw new Error("no fault");
}

describe("parameter checking", () => {
  it("names the parameter of the wrong type with its position", () => {
    const fault = faultOf(() => checkParams(spec, ["a@b", 7]));
    expect(fault.code).toBe(-32602);
    expect(fault.message).toBe("check.run: parameter 'check' (2) must be string, got int");
  });

  it("names a missing parameter and refuses extra ones", () => {
    expect(faultOf(() => checkParams(spec, ["a@b"])).message).toMatch(
      /missing parameter 'check' \(2, string\)/,
    );
    expect(faultOf(() => checkParams(spec, ["a", "b", 1, 2])).message).toMatch(
      /at most 3 parameters/,
    );
  });

  it("accepts optional parameters left out or nil", () => {
    expect(() => checkParams(spec, ["a@b", "load"])).not.toThrow();
    expect(() => checkParams(spec, ["a@b", "load", null])).not.toThrow();
  });
});

describe("durations", () => {
  it.each([
    ["90", 90],
    ["2h", 7200],
    ["1h30m", 5400],
    ["1h 30m", 5400],
    ["15 minutes", 900],
    ["1d", 86_400],
  ])("reads %s", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "h", "2x", "2h deploy", "-5m"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
