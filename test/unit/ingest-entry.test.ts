import { describe, expect, it } from "vitest";
import { decodeIngestEntry } from "../../src/monitor/ingest/consumer.js";

describe("decodeIngestEntry", () => {
  it("reads the fields the publish script writes, the owner lower-cased", () => {
    const fields = ["node", "agents/Web01@localhost", "owner", "Web01@localhost", "nodeSeq", "7"];
    fields.push("agentSeq", "42", "itemId", "s42", "payload", "<check/>", "publishedAt", "1000");
    expect(decodeIngestEntry("1-0", fields)).toEqual({
      id: "1-0",
      node: "agents/Web01@localhost",
      owner: "web01@localhost",
      nodeSeq: 7,
      agentSeq: 42,
      itemId: "s42",
      payload: "<check/>",
      publishedAt: 1000,
    });
  });

  it("has no agentSeq for '', nodeSeq 0 and publishedAt now when they are missing", () => {
    const before = Date.now();
    const entry = decodeIngestEntry("2-0", ["owner", "a@b", "agentSeq", ""]);
    expect(entry.agentSeq).toBeUndefined();
    expect(entry.nodeSeq).toBe(0);
    expect(entry.publishedAt).toBeGreaterThanOrEqual(before);
  });
});
