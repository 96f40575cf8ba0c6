import { describe, expect, it } from "vitest";
import { stanzaShapeProblem } from "../../src/component/index.js";
import { type Element, el } from "../../src/xmpp/index.js";

function nested(depth: number): Element {
  let inner = el("leaf");
  for (let i = 1; i < depth; i++) inner = el("n", {}, inner);
  return inner;
}

describe("stanzaShapeProblem", () => {
  const limits = { maxDepth: 10, maxElements: 50 };

  it("accepts a stanza at the depth limit and refuses one past it", () => {
    expect(stanzaShapeProblem(nested(10), limits)).toBeUndefined();
    expect(stanzaShapeProblem(nested(11), limits)).toBe("nested deeper than 10 elements");
  });

  it("refuses a stanza with more elements than allowed, however flat", () => {
    const flat = el("message", {}, ...Array.from({ length: 49 }, () => el("x")));
    expect(stanzaShapeProblem(flat, limits)).toBeUndefined();
    flat.cnode(el("x"));
    expect(stanzaShapeProblem(flat, limits)).toBe("more than 50 elements");
  });

  it("walks a 100,000-deep stanza without overflowing the stack", () => {
    expect(stanzaShapeProblem(nested(100_000), { maxDepth: 128, maxElements: 20_000 })).toBe(
      "nested deeper than 128 elements",
    );
  });
});
