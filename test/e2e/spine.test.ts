import { xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { iq, type Xml } from "../helpers/iq.js";
import { type Account, hostsFrom, useStack, waitForHost } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

const stack = useStack("spine");
let component: RunningComponent;
let url: string;

beforeAll(async () => {
  component = await stack.startComponent();
  url = component.httpUrl as string;
});

/** Send a raw IQ from a fresh client and return the reply stanza (result or error). */
async function rawIq(payload: Xml | Xml[], type: "get" | "set" = "get") {
  return iq(await stack.client(), stack.componentJid, type, payload);
}

const errorCondition = (stanza: Xml) =>
  stanza
    .getChild("error")
    ?.getChildElements()
    .find((c) => c.attrs.xmlns === NS_STANZAS)?.name;

describe("the component", () => {
  it("answers a client's disco#info with its identity and features", async () => {
    const client = await stack.client();
    const info = await client.iqCaller.request(
      xml("iq", { type: "get", to: stack.componentJid }, xml("query", { xmlns: NS_DISCO_INFO })),
    );
    const query = info.getChild("query", NS_DISCO_INFO);
    expect(query?.getChild("identity")?.attrs).toMatchObject({
      category: "component",
      type: "generic",
    });
    const features = query?.getChildren("feature").map((f) => f.attrs.var);
    expect(features).toEqual(
      expect.arrayContaining([NS_DISCO_INFO, "urn:xmpp:ping", "urn:jabmon:0"]),
    );
  });

  it("answers XEP-0199 ping with an empty result", async () => {
    const reply = await rawIq(xml("ping", { xmlns: "urn:xmpp:ping" }));
    expect(reply.attrs.type).toBe("result");
    expect(reply.getChildElements()).toHaveLength(0);
  });

  it("replies service-unavailable to an IQ it does not handle", async () => {
    const reply = await rawIq(xml("query", { xmlns: "urn:example:nothing" }));
    expect(reply.attrs.type).toBe("error");
    expect(errorCondition(reply)).toBe("service-unavailable");
  });

  it("replies bad-request to an IQ with two payloads, and keeps serving", async () => {
    const reply = await rawIq([
      xml("ping", { xmlns: "urn:xmpp:ping" }),
      xml("a", { xmlns: "urn:x" }),
    ]);
    expect(errorCondition(reply)).toBe("bad-request");
    expect((await rawIq(xml("ping", { xmlns: "urn:xmpp:ping" }))).attrs.type).toBe("result");
  });

  it("serves a health check and the overview page", async () => {
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, xmpp: true, redis: true });
    const page = await fetch(`${url}/`);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("/assets/overview.js");
  });
});

describe("an agent", () => {
  let account: Account;

  it("shows online with its status text within 1 s of coming online", async () => {
    account = await stack.account("web01");
    const agent = stack.spawnAgent(account, { JABMON_AGENT_HOST: "web01.example" });
    // Time from the agent's first presence, not from process start (Node boot and login take longer).
    const online = await waitForHost(url, account.jid, (h) => h.online === true, 15_000);
    expect(online).toMatchObject({
      host: "web01.example",
      online: true,
      state: expect.stringMatching(/ok|warning|critical/),
    });
    expect(String(online.status)).toMatch(/checks? (ok|warning|critical|unknown)/);
    expect(Date.now() - Date.parse(String(online.lastSeen))).toBeLessThan(1000 + 200);
    expect(agent.exitCode).toBeNull();
  });

  it("shows offline within 2 s of being killed with SIGKILL", async () => {
    const agent = stack.spawnAgent(await stack.account("web02"));
    const jid = "web02@localhost";
    await waitForHost(url, jid, (h) => h.online === true, 15_000);
    const killedAt = Date.now();
    agent.kill("SIGKILL");
    const offline = await waitForHost(url, jid, (h) => h.online === false, 2000);
    expect(offline.state).toBe("down");
    expect(Date.now() - killedAt).toBeLessThan(2000);
  });

  it("is recorded with what was valid when its presence payload is malformed, and the component keeps serving", async () => {
    const sender = await stack.account("broken01");
    const client = await stack.client(sender);
    await client.send(
      xml(
        "presence",
        { to: stack.componentJid },
        xml("show", {}, "away"),
        xml("status", {}, "half right"),
        xml("x", {
          xmlns: "urn:jabmon:0",
          host: "bad host name!",
          state: "on-fire",
          version: "1.2.3",
          failing: "-4",
        }),
      ),
    );
    const host = await waitForHost(url, sender.jid, (h) => h.online === true, 3000);
    expect(host).toMatchObject({
      state: "warning",
      status: "half right",
      version: "1.2.3",
      host: "broken01",
    });

    await client.send(
      xml(
        "presence",
        { to: stack.componentJid },
        xml("status", {}, "huge"),
        xml("x", { xmlns: "urn:jabmon:0", host: "h".repeat(10) }, "y".repeat(10_000)),
      ),
    );
    await waitForHost(url, sender.jid, (h) => h.status === "huge", 3000);
    expect((await rawIq(xml("ping", { xmlns: "urn:xmpp:ping" }))).attrs.type).toBe("result");
  });

  it("ignores presence from a JID outside the agent domains", async () => {
    const outsider = await stack.client();
    await outsider.send(
      xml("presence", { to: stack.componentJid, from: "spoof@elsewhere" }, xml("status", {}, "x")),
    );
    // ejabberd rewrites 'from' to the real JID, so the record (if any) is the real account's, never 'spoof'.
    await waitFor(async () => (await hostsFrom(url)).length > 0, { timeoutMs: 2000 });
    expect((await hostsFrom(url)).some((h) => String(h.jid).includes("spoof"))).toBe(false);
  });
});
