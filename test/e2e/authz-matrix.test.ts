/**
 * The authorisation matrix of docs/security.md, checked against the running
 * system: this test PARSES the tables under "## Authorisation matrix" and
 * tries every cell (action × actor) on real ejabberd, Redis, component and
 * AdminBot, so the document cannot drift from what is enforced. Actors: the
 * agent that owns the node, another agent, a plain user (not an agent:
 * monitor.agents is `agent-*@localhost`), an RPC/AdminBot viewer, an admin, a
 * user of another domain (a second ejabberd vhost), an anonymous session
 * (SASL ANONYMOUS on a third vhost) and an outcast of the node. Plus
 * spoofing: a forged `from` is replaced by what ejabberd stamps.
 *
 * MATRIX_PRINT=1 prints the observed matrix (to write or review the doc).
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import tls from "node:tls";
import { client as anonymousXmppClient, type Client, xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCommand, READ_ONLY_REFUSAL, REFUSAL } from "../../src/adminbot/index.js";
import { hashToken } from "../../src/gateway/index.js";
import { methodCallQuery, type RpcValue } from "../../src/rpc/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { askBot, startAdminBot } from "../helpers/chat.js";
import { errorOf, iq, NS_PUBSUB, owner, pubsub } from "../helpers/pubsub.js";
import { clientXml, rpcCall } from "../helpers/rpc.js";
import { type Account, useStack } from "../helpers/stack.js";

type Stanza = ReturnType<typeof xml>;
type Verdict = "allowed" | "refused" | "pending";

const DOC = join(import.meta.dirname, "..", "..", "docs", "security.md");
/**
 * Run `start` with node:tls trusting the stack's certificate: the stock
 * @xmpp/client (the only one here that speaks SASL ANONYMOUS) takes no CA
 * option, and STARTTLS is required.
 */
async function trustingStackCa<T>(start: () => Promise<T>): Promise<T> {
  const connect = tls.connect;
  const ca = readFileSync(stack.caFile as string, "utf8");
  tls.connect = ((options: tls.ConnectionOptions, ...rest: unknown[]) =>
    (connect as (...a: unknown[]) => tls.TLSSocket)(
      { ca, ...options },
      ...rest,
    )) as typeof tls.connect;
  try {
    return await start();
  } finally {
    tls.connect = connect;
  }
}

const OTHER_DOMAIN = "other.localhost";
const ANON_DOMAIN = "anon.localhost";
const TOKEN = randomBytes(16).toString("hex");
/** Gateway tokens (docs/gateway.md) of the admin, the viewer and a JID in no access list. */
const GATEWAY_TOKENS = {
  "admin token": randomBytes(16).toString("hex"),
  "viewer token": randomBytes(16).toString("hex"),
  "token of a JID in no list": randomBytes(16).toString("hex"),
};

/** Column headers of the doc's tables → actor ids of this test. */
const ACTORS: Record<string, string> = {
  "owner agent": "owner",
  "another agent": "other",
  "plain user": "user",
  viewer: "viewer",
  admin: "admin",
  alertbot: "alertbot",
  "another domain": "foreign",
  anonymous: "anon",
  outcast: "outcast",
};

interface Table {
  columns: string[];
  rows: Array<{ key: string; cells: string[] }>;
}

/** The markdown tables under a heading: header row, then rows keyed by the first `code` span. */
function tablesUnder(markdown: string, heading: string): Table[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`docs/security.md has no "${heading}" section`);
  const rest = markdown.slice(start + heading.length + 2);
  const end = rest.search(/\n## /);
  const lines = (end < 0 ? rest : rest.slice(0, end)).split("\n");
  const tables: Table[] = [];
  let current: Table | undefined;
  const cellsOf = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, "")
      .split("|")
      .map((c) => c.trim());
  for (const line of lines) {
    if (!line.trim().startsWith("|")) {
      current = undefined;
      continue;
    }
    const cells = cellsOf(line);
    if (!current) {
      current = { columns: cells.slice(1), rows: [] };
      tables.push(current);
    } else if (!/^-+$/.test(cells[0]?.replace(/:/g, "") ?? "")) {
      const key = /`([^`]+)`/.exec(cells[0] ?? "")?.[1];
      if (!key) throw new Error(`matrix row without a \`key\`: ${line}`);
      current.rows.push({ key, cells: cells.slice(1) });
    }
  }
  return tables;
}

const stack = useStack("authz", {
  extraDomains: [OTHER_DOMAIN],
  anonymousDomain: ANON_DOMAIN,
});
let component: RunningComponent;
const actors: Record<string, { account: Account; client: Client }> = {};
let anon: Client;
let anonJid: string;
let outcast: Account;
let third: Account;
let botJid: string;

async function actor(name: string, account: Account) {
  actors[name] = { account, client: await stack.client(account) };
}

beforeAll(async () => {
  const admin = await stack.account("boss");
  const viewer = await stack.account("viewer");
  const bot = await stack.account("adminbot");
  const alertbot = await stack.account("alertbot");
  botJid = bot.jid;
  outcast = await stack.account(`outcast-${randomBytes(3).toString("hex")}`);
  third = await stack.account(`third-${randomBytes(3).toString("hex")}`);
  component = await stack.startComponent({
    monitor: {
      agentDomains: [stack.domain],
      agents: ["agent-*@localhost"],
      presenceConfirmMs: 3000,
    },
    pubsub: { admins: [admin.jid], subscribers: [alertbot.jid] },
    rpc: { admins: [admin.jid, bot.jid], viewers: [viewer.jid] },
    http: { host: "127.0.0.1", port: 0, token: TOKEN },
    gateway: {
      enabled: true,
      port: 0,
      callsPerSecond: 1000,
      tokens: [
        { jid: admin.jid, sha256: hashToken(GATEWAY_TOKENS["admin token"]) },
        { jid: viewer.jid, sha256: hashToken(GATEWAY_TOKENS["viewer token"]) },
        { jid: third.jid, sha256: hashToken(GATEWAY_TOKENS["token of a JID in no list"]) },
      ],
    },
  });
  await actor("admin", admin);
  await actor("viewer", viewer);
  await actor("alertbot", alertbot);
  await actor("other", await stack.account(`agent-other-${randomBytes(3).toString("hex")}`));
  await actor("user", await stack.account(`user-${randomBytes(3).toString("hex")}`));
  await actor(
    "foreign",
    await stack.account(`agent-${randomBytes(3).toString("hex")}`, OTHER_DOMAIN),
  );
  await actor("outcast", outcast);
  anon = anonymousXmppClient({ service: stack.ejabberd.c2sService, domain: ANON_DOMAIN });
  anon.on("error", () => {});
  anonJid = (await trustingStackCa(() => anon.start())).bare().toString();
  await startAdminBot(stack, bot, {
    admins: admin.jid,
    viewers: viewer.jid,
    room: `matrix@conference.${stack.domain}`,
  });
}, 120_000);
afterAll(async () => {
  await anon?.stop().catch(() => {});
});

/** The session and bare JID acting as `name`; the owner is the cell's own fresh agent. */
function who(name: string, ownerCtx: { client: Client; jid: string }) {
  if (name === "owner") return ownerCtx;
  if (name === "anon") return { client: anon, jid: anonJid };
  const a = actors[name];
  if (!a) throw new Error(`unknown actor ${name}`);
  return { client: a.client, jid: a.account.jid };
}

const to = () => stack.componentJid;
const verdictOf = (reply: Stanza): Verdict =>
  reply.attrs.type === "result" ? "allowed" : "refused";

/** A publish of one jabmon event (docs/protocol.md) to `node`. */
const publishEvent = (
  node: string,
  seq: number,
  { severity = "info", id = undefined as string | undefined } = {},
) =>
  pubsub(
    xml(
      "publish",
      { node },
      xml(
        "item",
        { id },
        xml("event", {
          xmlns: "urn:jabmon:0",
          seq: String(seq),
          time: new Date().toISOString(),
          type: "message",
          severity,
        }),
      ),
    ),
  );

// ------------------------------------------------------------ node actions

const NODE_ACTIONS: Record<string, (c: Client, node: string, me: string) => Promise<Verdict>> = {
  create: async (c, node) => verdictOf(await iq(c, to(), "set", pubsub(xml("create", { node })))),
  publish: async (c, node) => verdictOf(await iq(c, to(), "set", publishEvent(node, 2))),
  retract: async (c, node) =>
    verdictOf(
      await iq(c, to(), "set", pubsub(xml("retract", { node }, xml("item", { id: "s1" })))),
    ),
  purge: async (c, node) => verdictOf(await iq(c, to(), "set", owner(xml("purge", { node })))),
  delete: async (c, node) => verdictOf(await iq(c, to(), "set", owner(xml("delete", { node })))),
  configure: async (c, node) =>
    verdictOf(await iq(c, to(), "get", owner(xml("configure", { node })))),
  subscribe: async (c, node, me) => {
    const reply = await iq(c, to(), "set", pubsub(xml("subscribe", { node, jid: me })));
    if (reply.attrs.type !== "result") return "refused";
    const state = reply.getChild("pubsub", NS_PUBSUB)?.getChild("subscription")?.attrs.subscription;
    return state === "pending" ? "pending" : "allowed";
  },
  items: async (c, node) => verdictOf(await iq(c, to(), "get", pubsub(xml("items", { node })))),
  approve: async (c, node) =>
    verdictOf(
      await iq(
        c,
        to(),
        "set",
        owner(
          xml(
            "subscriptions",
            { node },
            xml("subscription", { jid: third.jid, subscription: "subscribed" }),
          ),
        ),
      ),
    ),
};

/** A fresh agent owning `agents/<jid>` (with item s1 and the outcast set), unless `create`. */
async function freshOwner(action: string) {
  const account = await stack.account(`agent-${randomBytes(4).toString("hex")}`);
  const client = await stack.client(account);
  const node = `agents/${account.jid}`;
  if (action !== "create") {
    const published = await iq(client, to(), "set", publishEvent(node, 1));
    expect(errorOf(published)).toBeUndefined();
    const outcastSet = await iq(
      client,
      to(),
      "set",
      owner(
        xml(
          "affiliations",
          { node },
          xml("affiliation", { jid: outcast.jid, affiliation: "outcast" }),
        ),
      ),
    );
    expect(errorOf(outcastSet)).toBeUndefined();
  }
  return { client, jid: account.jid, node };
}

// ------------------------------------------------------------------- RPC

const RPC_PARAMS: Record<string, () => RpcValue[]> = {
  "system.listMethods": () => [],
  "system.methodHelp": () => ["hosts.list"],
  "hosts.list": () => [],
  "host.status": () => [actors.other?.account.jid ?? ""],
  "alerts.list": () => [],
  "alert.ack": () => [999_999],
  "alert.unack": () => [999_999],
  "silence.add": () => ["nomatch-*", 60, "matrix"],
  "silence.list": () => [],
  "silence.remove": () => [999_999],
  "check.run": () => [actors.other?.account.jid ?? "", "load", 0],
  "agent.reload": () => [actors.other?.account.jid ?? "", 0],
  "downtime.add": () => ["nomatch-*", 60, "matrix"],
  "downtime.list": () => [],
  "downtime.remove": () => [999_999],
  "modules.list": () => [],
  "modules.status": () => ["nomodule"],
  "modules.audit": () => [],
};

async function rpcVerdict(c: Client, method: string): Promise<Verdict> {
  const params = RPC_PARAMS[method];
  if (!params) throw new Error(`the matrix names RPC method ${method}, unknown to this test`);
  const { reply } = await rpcCall(c, to(), method, params());
  if (reply.attrs.type === "result") return "allowed";
  expect(errorOf(reply)?.[0]).toBe("forbidden");
  return "refused";
}

// -------------------------------------------------------------- AdminBot

async function botVerdict(c: Client, command: string): Promise<Verdict> {
  const answer = await askBot(c, botJid, command);
  return answer === REFUSAL || answer === READ_ONLY_REFUSAL ? "refused" : "allowed";
}

// ------------------------------------------------------------------ HTTP

async function httpVerdict(path: string, credentials: string): Promise<Verdict> {
  const headers: Record<string, string> = {};
  if (credentials === "valid token") headers.authorization = `Bearer ${TOKEN}`;
  else if (credentials === "wrong token") headers.authorization = `Bearer ${TOKEN}x`;
  else if (credentials !== "no credentials") throw new Error(`unknown HTTP column ${credentials}`);
  const url = `${component.httpUrl}${path.replace("<agent>", actors.other?.account.jid ?? "")}`;
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  abort.abort(); // the live stream stays open otherwise
  if (response.status === 401 || response.status === 403) return "refused";
  // Authorised: a page, or 404 for a host the store does not know.
  expect(response.status, `${path} with ${credentials}`).toBeLessThan(500);
  return "allowed";
}

// --------------------------------------------------------------- gateway

async function gatewayVerdict(route: string, column: string): Promise<Verdict> {
  const xmlRpc = route.startsWith("POST /RPC2 ");
  if (!xmlRpc && !route.startsWith("POST /api/rpc/"))
    throw new Error(`unknown gateway route ${route}`);
  const method = xmlRpc ? route.slice("POST /RPC2 ".length) : route.slice("POST /api/rpc/".length);
  const params = RPC_PARAMS[method];
  if (!params) throw new Error(`unknown method in ${route}`);
  const token =
    column === "no token"
      ? undefined
      : column === "wrong token"
        ? `${TOKEN}0`
        : GATEWAY_TOKENS[column as keyof typeof GATEWAY_TOKENS];
  if (column !== "no token" && token === undefined) throw new Error(`unknown column ${column}`);
  const url = `${component.gateway?.url}${xmlRpc ? "/RPC2" : `/api/rpc/${method}`}`;
  const body = xmlRpc
    ? clientXml(methodCallQuery(method, params())).getChild("methodCall")?.toString()
    : JSON.stringify({ params: params() });
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": xmlRpc ? "text/xml" : "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body,
  });
  await response.text();
  if (response.status === 401 || response.status === 403) return "refused";
  expect(response.status, `${route} with ${column}`).not.toBe(429);
  return "allowed";
}

// ------------------------------------------------------------ XMPP cells

/** The verdict of the XMPP table's cell `action` × actor `name`. */
async function xmppVerdict(action: string, name: string): Promise<Verdict> {
  const nodeAction = NODE_ACTIONS[action];
  if (nodeAction) {
    const fresh = await freshOwner(action);
    const { client, jid } = who(name, fresh);
    const verdict = await nodeAction(client, fresh.node, jid);
    await fresh.client.stop();
    return verdict;
  }
  // RPC and the AdminBot know no node owner: that column is an agent like another.
  const { client } = who(name === "owner" ? "other" : name, { client: anon, jid: "" });
  if (action.startsWith("rpc ")) return rpcVerdict(client, action.slice(4));
  if (action.startsWith("bot ")) return botVerdict(client, action.slice(4));
  throw new Error(`unknown matrix action ${action}`);
}

// ----------------------------------------------------------------- tests

const markdown = readFileSync(DOC, "utf8");
const tables = tablesUnder(markdown, "## Authorisation matrix");
const print = process.env.MATRIX_PRINT === "1";

describe("the authorisation matrix of docs/security.md", () => {
  it("has the XMPP and the HTTP table, with every actor and every action", () => {
    expect(tables.length).toBe(3);
    const [xmppTable, httpTable, gatewayTable] = tables as [Table, Table, Table];
    expect(gatewayTable.columns).toEqual([
      "no token",
      "wrong token",
      ...Object.keys(GATEWAY_TOKENS).reverse(),
    ]);
    for (const method of component.rpc.service.methods())
      expect(gatewayTable.rows.map((r) => r.key)).toContain(`POST /api/rpc/${method}`);
    expect(xmppTable.columns).toEqual(Object.keys(ACTORS));
    expect(httpTable.columns).toEqual(["no credentials", "wrong token", "valid token"]);
    const keys = xmppTable.rows.map((r) => r.key);
    for (const action of Object.keys(NODE_ACTIONS)) expect(keys).toContain(action);
    for (const method of component.rpc.service.methods()) expect(keys).toContain(`rpc ${method}`);
    const kinds = new Set(
      keys.filter((k) => k.startsWith("bot ")).map((k) => parseCommand(k.slice(4)).kind),
    );
    for (const kind of [
      "help",
      "overview",
      "down",
      "hosts",
      "check",
      "run",
      "alerts",
      "ack",
      "unack",
      "silence",
      "silences",
      "unsilence",
      "reload",
      "subscribe",
      "unsubscribe",
      "downtime",
      "downtimes",
      "undowntime",
      "modules",
    ])
      expect(kinds).toContain(kind);
  });

  it("is what the running system enforces, cell by cell", async () => {
    const [xmppTable, httpTable, gatewayTable] = tables as [Table, Table, Table];
    const cellVerdicts: Array<[Table, (key: string, column: string) => Promise<Verdict>]> = [
      [xmppTable, (action, column) => xmppVerdict(action, ACTORS[column] as string)],
      [httpTable, httpVerdict],
      [gatewayTable, gatewayVerdict],
    ];
    const observed: string[] = [];
    const mismatches: string[] = [];
    for (const [table, cellVerdict] of cellVerdicts)
      for (const row of table.rows) {
        const line: string[] = [];
        for (const [i, column] of table.columns.entries()) {
          const verdict = await cellVerdict(row.key, column);
          line.push(verdict);
          if (verdict !== row.cells[i])
            mismatches.push(`${row.key} × ${column}: doc says ${row.cells[i]}, system ${verdict}`);
        }
        observed.push(`| \`${row.key}\` | ${line.join(" | ")} |`);
      }
    if (print) console.log(observed.join("\n"));
    expect(mismatches).toEqual([]);
  }, 300_000);
});

/** The ids of the items `client` can retrieve from `node`. */
async function itemIdsAt(client: Client, node: string): Promise<string[]> {
  const reply = await iq(client, to(), "get", pubsub(xml("items", { node })));
  const items = reply.getChild("pubsub", NS_PUBSUB)?.getChild("items")?.getChildren("item") ?? [];
  return items.map((i) => i.attrs.id as string);
}

describe("spoofing", () => {
  it("a forged from naming another agent or the component never acts as them", async () => {
    const victim = await freshOwner("publish");
    const attacker = await stack.account(`user-${randomBytes(3).toString("hex")}`);
    for (const forged of [`${victim.jid}/spoof`, stack.componentJid]) {
      for (const node of [victim.node, "alerts"]) {
        // A fresh session each time: ejabberd may close the stream of a forger.
        const session = await stack.client(attacker);
        let closed = false;
        session.on("disconnect", () => {
          closed = true;
        });
        const forgery = publishEvent(node, 9, { severity: "critical", id: "forged" });
        const answer = await iq(session, stack.componentJid, "set", forgery, {
          from: forged,
          timeoutMs: 5000,
          rejectOnDisconnect: true,
        }).catch(() => undefined);
        // Either ejabberd ends the forger's stream (invalid-from), or the
        // component answers the forger's real session with an error.
        if (answer) {
          expect(answer.attrs.type).toBe("error");
          expect(answer.attrs.to?.split("/")[0]).toBe(attacker.jid);
        } else expect(closed).toBe(true);
        await session.stop().catch(() => {});
      }
    }
    const ids = await itemIdsAt(victim.client, victim.node);
    expect(ids).toContain("s1");
    expect(ids).not.toContain("forged");
    expect(await itemIdsAt(actors.admin?.client as Client, "alerts")).not.toContain("forged");
    await victim.client.stop();
  });
});
