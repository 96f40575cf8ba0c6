/**
 * An IQ error reply that arrives before send() resolves (over TLS the write
 * callback comes after ejabberd's instant bounce for an offline component)
 * must reject request() only, never surface as an unhandled rejection, which
 * ends a Node process. A tiny fake entity orders the two events (STYLE.md:
 * dispatcher edge cases may use a tiny fake); the real path is covered by the
 * agent tests against ejabberd.
 */
import iqCallerFactory from "@xmpp/iq/caller.js";
import { describe, expect, it } from "vitest";
import { el, observeEarlyReplies } from "../../src/xmpp/index.js";

function fakeEntityWithInstantBounce() {
  const uses: Array<(ctx: unknown, next: () => unknown) => unknown> = [];
  const middleware = { use: (fn: (ctx: unknown, next: () => unknown) => unknown) => uses.push(fn) };
  const entity = {
    async send(stanza: ReturnType<typeof el>) {
      // The bounce is routed before the write "completes".
      const error = el(
        "iq",
        { type: "error", id: stanza.attrs.id, from: "monitor.localhost" },
        el(
          "error",
          { type: "cancel" },
          el("remote-server-not-found", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }),
        ),
      );
      for (const fn of uses)
        fn({ type: "error", name: "iq", id: stanza.attrs.id, stanza: error }, () => {});
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
  };
  return { entity, middleware };
}

async function unhandledDuring(run: () => Promise<unknown>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on("unhandledRejection", listener);
  try {
    await run().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off("unhandledRejection", listener);
  }
  return seen;
}

describe("an IQ reply that arrives before send() resolves", () => {
  it("rejects request() with the stanza error and leaves no unhandled rejection", async () => {
    const deps = fakeEntityWithInstantBounce();
    // biome-ignore lint/suspicious/noExplicitAny: untyped xmpp.js factory
    const caller = observeEarlyReplies((iqCallerFactory as any)(deps));
    const request = caller.request(el("iq", { type: "set", to: "monitor.localhost" }), 1000);
    await expect(request).rejects.toThrow(/remote-server-not-found/);
    const seen = await unhandledDuring(() =>
      caller.request(el("iq", { type: "set", to: "monitor.localhost" }), 1000),
    );
    expect(seen).toEqual([]);
  });

  it("is what xmpp.js 0.14's own request() gets wrong (the reason for the wrapper)", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: untyped xmpp.js factory
    const caller = (iqCallerFactory as any)(fakeEntityWithInstantBounce());
    const seen = await unhandledDuring(() =>
      caller.request(el("iq", { type: "set", to: "monitor.localhost" }), 1000),
    );
    expect(seen.length).toBe(1);
  });
});
