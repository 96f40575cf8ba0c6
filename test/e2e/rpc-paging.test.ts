/**
 * Jabber-RPC answers against ejabberd's limit (issue 18): with 1,500 hosts a
 * whole hosts.list is about 1.5 MB, more than the component listener's
 * max_stanza_size (1 MiB), and ejabberd would close the component's stream on
 * it, blinding the monitor. hosts.list pages within rpc.maxReplyBytes, the
 * whole list asked for without a page is a fault, and the component stays
 * connected throughout; the AdminBot and the HTTP gateway page through.
 */
import type { Client } from "@xmpp/client";
import { xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../src/gateway/index.js";
import type { RpcStruct, RpcValue } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { askBot, startAdminBot, type TestAdminBot } from "../helpers/chat.js";
import { rpcCall } from "../helpers/rpc.js";
import { type Account, useStack } from "../helpers/stack.js";

const HOSTS = 1500;
/** The default rpc.maxReplyBytes. */
const REPLY = 262_144;
/** An agent's status line of a realistic length: about 1 KB per host struct in all. */
const STATUS = "load 0.42 0.40 0.38; disk / 71% /var 64% /home 12%; mem 61%; ".repeat(7);
const VIEWER_TOKEN = "paging-viewer-token-0123456789";

const stack = useStack("rpc-paging");
let component: RunningComponent;
let viewer: Account;
let alice: Account;
let bot: Account;
let viewerClient: Client;
let adminBot: TestAdminBot;
let gatewayUrl: string;
/** Times the component's link to ejabberd dropped since the hosts were created. */
let linkDrops = 0;

const jidOf = (i: number) => `pg${String(i).padStart(5, "0")}@localhost`;
const expectedJids = Array.from({ length: HOSTS }, (_, i) => jidOf(i)).sort();

beforeAll(async () => {
  viewer = await stack.account("pgviewer");
  alice = await stack.account("pgalice");
  bot = await stack.account("pgbot");
  component = await stack.startComponent({
    rpc: { admins: [bot.jid], viewers: [viewer.jid] },
    // Nothing here needs the status page or the live node; they would only add load.
    http: { enabled: false },
    live: { enabled: false },
    gateway: {
      enabled: true,
      port: 0,
      tokens: [{ jid: viewer.jid, sha256: hashToken(VIEWER_TOKEN) }],
      callsPerSecond: 1000,
    },
  });
  gatewayUrl = component.gateway?.url as string;
  // The host records as presence leaves them for a fleet that has gone away:
  // written straight to the status database, far faster than 1,500 agents.
  for (let start = 0; start < HOSTS; start += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, HOSTS - start) }, async (_, k) => {
        const jid = jidOf(start + k);
        const full = `${jid}/agent`;
        const name = `${jid.split("@")[0]}.example`;
        await component.hosts.recordPresence(jid, full, {
          host: name,
          state: "ok",
          status: STATUS,
          version: "1.2.3",
        });
        await component.hosts.markOffline(jid, full, "went offline");
      }),
    );
  }
  component.link.onOffline(() => linkDrops++);
  viewerClient = await stack.client(viewer);
  adminBot = await startAdminBot(stack, bot, {
    admins: alice.jid,
    room: "paging@conference.localhost",
  });
}, 120_000);

/** One call as a raw IQ with the given id; the reply's size (0 without one after 15 s) and its response. */
async function call(client: Client, method: string, params: RpcValue[], id = randomId()) {
  const answer = await rpcCall(client, stack.componentJid, method, params, {
    id,
    timeoutMs: 15_000,
  }).catch(() => undefined);
  return {
    bytes: answer ? Buffer.byteLength(answer.reply.toString()) : 0,
    response: answer?.response,
  };
}
const randomId = () => `p${Math.random().toString(36).slice(2)}`;

interface PageValue {
  items: RpcStruct[];
  total: number;
  more: boolean;
  next?: string;
}

/** Every page of hosts.list in turn, each reply's size and the page. */
async function walkHosts(id?: () => string) {
  const pages: Array<{ bytes: number; page: PageValue }> = [];
  let after: string | undefined;
  for (let round = 0; round < 100; round++) {
    const page: RpcStruct = after === undefined ? { limit: 1000 } : { limit: 1000, after };
    const { bytes, response } = await call(viewerClient, "hosts.list", ["", page], id?.());
    if (!response?.ok)
      throw new Error(`page ${round}: ${response ? response.message : "no answer"}`);
    const value = response.value as unknown as PageValue;
    pages.push({ bytes, page: value });
    if (!value.more) return pages;
    after = value.next;
  }
  throw new Error("hosts.list paging did not end");
}

describe("hosts.list with 1,500 hosts, more than one stanza can carry", () => {
  it("pages through every host, each reply within the limit, the component staying connected", async () => {
    const pages = await walkHosts();
    const jids = pages.flatMap(({ page }) => page.items.map((h) => String(h.jid)));
    expect(jids).toEqual(expectedJids);
    expect(pages.length).toBeGreaterThan(5);
    for (const { bytes, page } of pages) {
      expect(bytes).toBeLessThanOrEqual(REPLY);
      expect(page.total).toBe(HOSTS);
    }
    // Full pages: each was cut by bytes, not by its limit of 1000.
    expect(pages[0]?.bytes).toBeGreaterThan(REPLY - 4096);
    expect(pages[0]?.page.items[0]).toMatchObject({ state: "down", status: STATUS });
    expect(linkDrops).toBe(0);
    expect(component.link.isOnline()).toBe(true);
  });

  it("answers the whole list asked for without a page with fault -32008, and stays connected", async () => {
    const { response } = await call(viewerClient, "hosts.list", []);
    expect(response).toMatchObject({ ok: false, code: -32008 });
    expect(response?.ok === false && response.message).toMatch(
      /^hosts\.list: 1500 hosts do not fit in one reply .*parameter 'page' \(2\)/,
    );
    expect(linkDrops).toBe(0);
    // The link is the same one: the next call is answered at once.
    const status = await call(viewerClient, "host.status", [jidOf(7)]);
    expect(status.response).toMatchObject({ ok: true, value: { jid: jidOf(7), state: "down" } });
  });

  it("counts a long IQ id against the limit: the pages are smaller, and still all there", async () => {
    const longId = () => `${randomId()}${"i".repeat(100_000)}`;
    const pages = await walkHosts(longId);
    expect(pages.flatMap(({ page }) => page.items.map((h) => String(h.jid)))).toEqual(expectedJids);
    for (const { bytes } of pages) expect(bytes).toBeLessThanOrEqual(REPLY);
    expect(linkDrops).toBe(0);
  });

  it("lets the AdminBot count every host, page by page", async () => {
    const client = await stack.client(alice);
    await client.send(xml("presence"));
    const answer = await askBot(client, bot.jid, "status", {
      timeoutMs: 30_000,
      diagnostics: adminBot.state,
    });
    const lines = answer.split("\n");
    expect(lines[0]).toBe(`${HOSTS} hosts: ${HOSTS} down`);
    expect(lines.at(-1)).toBe(`… and ${HOSTS - 14} more`);
    expect(linkDrops).toBe(0);
  });

  it("pages over the HTTP gateway, and answers the whole list with 400 and the fault", async () => {
    const post = (params: unknown[]) =>
      fetch(`${gatewayUrl}/api/rpc/hosts.list`, {
        method: "POST",
        headers: { authorization: `Bearer ${VIEWER_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ params }),
      });
    const whole = await post([]);
    expect(whole.status).toBe(400);
    expect(((await whole.json()) as { error: { code: number } }).error.code).toBe(-32008);
    const first = await post([null, { limit: 50 }]);
    expect(first.status).toBe(200);
    const { result } = (await first.json()) as { result: PageValue };
    expect([result.items.length, result.total, result.more, result.next]).toEqual([
      50,
      HOSTS,
      true,
      jidOf(49),
    ]);
  });
});
