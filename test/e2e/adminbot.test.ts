import { type Client, xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import { REFUSAL } from "../../src/adminbot/index.js";
import type { RunningComponent } from "../../src/server/index.js";
import { askBot, startAdminBot, type TestAdminBot } from "../helpers/chat.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

type Stanza = ReturnType<typeof xml>;
const NS_MUC = "http://jabber.org/protocol/muc";
const NS_MUC_USER = "http://jabber.org/protocol/muc#user";

const stack = useStack("adminbot");
let component: RunningComponent;
let url: string;
let bot: Account;
let alice: Account;
let victor: Account;
let mallory: Account;
let adminBot: TestAdminBot;
const room = "ops@conference.localhost";

beforeAll(async () => {
  bot = await stack.account("adminbot");
  alice = await stack.account("alice");
  victor = await stack.account("victor");
  mallory = await stack.account("mallory");
  component = await stack.startComponent({ rpc: { admins: [bot.jid] } });
  url = component.httpUrl as string;

  for (const name of ["web05", "web06"]) {
    const account = await stack.account(name);
    const agent = stack.spawnAgent(account, { JABMON_AGENT_HOST: `${name}.example` });
    await waitForHost(url, account.jid, (h) => h.online === true, 15_000);
    if (name === "web05") {
      agent.kill("SIGKILL");
      await waitForHost(url, account.jid, (h) => h.online === false, 5000);
    }
  }

  adminBot = await startAdminBot(stack, bot, {
    admins: alice.jid,
    viewers: victor.jid,
    room,
  });
});

/** Send a chat message to the bot and return the body of its next reply. */
const ask = (client: Client, text: string) =>
  askBot(client, bot.jid, text, { diagnostics: adminBot.state });

const clients = new Map<string, Client>();
async function clientFor(account: Account): Promise<Client> {
  let c = clients.get(account.jid);
  if (!c) {
    c = await stack.client(account);
    await c.send(xml("presence"));
    clients.set(account.jid, c);
  }
  return c;
}

describe("chatting with the AdminBot one to one", () => {
  it('lists a killed agent when asked "what\'s down?"', async () => {
    const answer = await ask(await clientFor(alice), "what's down?");
    expect(answer.split("\n")[0]).toMatch(/^DOWN web05: went offline \d+s ago$/);
    // web06 is up; it appears only if its load or disk happens to be failing on this machine.
    expect(answer).not.toMatch(/^OK web06/m);
  });

  it("gives an overview, worst first", async () => {
    const answer = await ask(await clientFor(alice), "status");
    const lines = answer.split("\n");
    expect(lines[0]).toMatch(/^2 hosts: 1 down, /);
    expect(lines[1]).toMatch(/^DOWN web05/);
  });

  it("shows one host", async () => {
    expect(await ask(await clientFor(alice), "status web06")).toMatch(
      /^(OK|WARN|CRIT|UNKN) web06: /,
    );
    expect(await ask(await clientFor(alice), "status nothing*")).toBe("No host matches nothing*.");
  });

  it("runs a check on an agent", async () => {
    const answer = await ask(await clientFor(alice), "run load on web06");
    expect(answer).toMatch(/^(OK|WARN|CRIT) web06 load: LOAD \w+ - /);
    const disk = await ask(await clientFor(alice), "disk on web*");
    // web05 is down: reported, not run; web06 runs its disk check.
    const lines = disk.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("ERR web05 disk: offline");
    expect(lines[1]).toMatch(/^(OK|WARN|CRIT) web06 disk: DISK \w+ - used: \/ [\d.]+%$/);
  });

  it("suggests the closest commands for input it does not understand", async () => {
    expect(await ask(await clientFor(alice), "stauts web06")).toMatch(
      /didn't understand "stauts web06"\. Did you mean: status <host\|glob>/,
    );
  });

  it('lists open alerts and acknowledges one with "ack <id> looking into it"', async () => {
    const alerts = await ask(await clientFor(alice), "alerts");
    const first = alerts.split("\n")[0] as string;
    expect(first).toMatch(/^#\d+ DOWN web05: went offline, \d+[sm]$/);
    const id = Number(first.match(/^#(\d+)/)?.[1]);
    expect(await ask(await clientFor(alice), `ack ${id} looking into it`)).toBe(
      `Acknowledged alert #${id} (web05 DOWN): no more notifications for it until it recovers.`,
    );
    // The bot acts for alice: the comment says so.
    expect(await component.monitor.alerts.listAcks()).toEqual([
      expect.objectContaining({
        jid: "web05@localhost",
        check: "",
        by: bot.jid,
        comment: `${alice.jid}: looking into it`,
      }),
    ]);
    expect((await ask(await clientFor(alice), "alerts")).split("\n")[0]).toMatch(
      new RegExp(
        `^#${id} DOWN web05: went offline, \\d+[sm] \\[acked by ${bot.jid}: ${alice.jid}: looking into it\\]$`,
      ),
    );
    // A later alert for the same outage (as a re-notification would be) is not sent.
    await component.monitor.alerts.raise({
      kind: "host",
      jid: "web05@localhost",
      host: "web05.example",
      check: "",
      state: "down",
      previous: "down",
      text: "still down",
    });
    const logged = await waitFor(
      async () => (await component.monitor.alerts.recent(50)).find((a) => a.text === "still down"),
      { timeoutMs: 5000, what: "the repeated alert in the log" },
    );
    expect(logged).toMatchObject({ delivered: false, suppressed: "acknowledged" });
    expect(await ask(await clientFor(alice), "ack 999999")).toBe(
      "Could not do that: No alert #999999.",
    );
  });

  it('silences hosts with "silence web* for 2h deploy", lists and ends the silence', async () => {
    const answer = await ask(await clientFor(alice), "silence web* for 2h deploy");
    expect(answer).toMatch(/^Silenced web\* for 2h \(#\d+\)\.$/);
    const id = Number(answer.match(/#(\d+)/)?.[1]);
    const [silence] = await component.monitor.alerts.listSilences();
    expect(silence).toMatchObject({
      id: String(id),
      host: "web*",
      check: "*",
      comment: `${alice.jid}: deploy`,
    });
    expect(silence?.expiresAt).toBeGreaterThan(Date.now() + 7_190_000);
    expect(await ask(await clientFor(alice), "silences")).toMatch(
      new RegExp(`^#${id} web\\* for (2h|1h59m) more: ${alice.jid}: deploy \\(${bot.jid}\\)$`),
    );
    // The open web05 alert now shows the silence.
    expect((await ask(await clientFor(alice), "alerts")).split("\n")[0]).toMatch(
      new RegExp(`\\[acked by .*; silenced #${id}\\]$`),
    );
    expect(await ask(await clientFor(alice), `unsilence ${id}`)).toBe(`Silence #${id} ended.`);
    expect(await ask(await clientFor(alice), "silences")).toBe("No active silences.");
    // And the acknowledgement of the first test withdrawn.
    const down = (await ask(await clientFor(alice), "alerts")).split("\n")[0] as string;
    const alertId = Number(down.match(/^#(\d+)/)?.[1]);
    expect(await ask(await clientFor(alice), `unack ${alertId}`)).toBe(
      `Acknowledgement of alert #${alertId} (web05 DOWN) withdrawn: it is notified and reminded of again.`,
    );
    expect(await component.monitor.alerts.listAcks()).toEqual([]);
    expect((await ask(await clientFor(alice), "alerts")).split("\n")[0]).not.toMatch(/acked by/);
  });

  it("refuses an unauthorised JID politely", async () => {
    expect(await ask(await clientFor(mallory), "what's down?")).toBe(REFUSAL);
    expect(await ask(await clientFor(mallory), "ack 1 mine now")).toBe(REFUSAL);
    expect(await ask(await clientFor(mallory), "silence web* for 2h")).toBe(REFUSAL);
  });

  it("lets a viewer read but not act", async () => {
    const viewer = await clientFor(victor);
    expect(await ask(viewer, "what's down?")).toMatch(/^DOWN web05/);
    expect(await ask(viewer, "run load on web06")).toMatch(/read-only access/);
    expect(await ask(viewer, "ack 1 mine")).toMatch(/read-only access/);
    expect(await ask(viewer, "silence web* for 1h")).toMatch(/read-only access/);
    expect(await ask(viewer, "alerts")).toMatch(/^#\d+ DOWN web05/);
  });
});

describe("the AdminBot in a MUC room", () => {
  async function join(account: Account, nick: string): Promise<Client> {
    const c = await stack.client(account);
    const joined = new Promise<void>((resolve) => {
      c.on("stanza", (s: Stanza) => {
        const codes = s
          .getChild("x", NS_MUC_USER)
          ?.getChildren("status")
          .map((x) => x.attrs.code);
        if (s.is("presence") && s.attrs.from === `${room}/${nick}` && codes?.includes("110"))
          resolve();
      });
    });
    await c.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: NS_MUC })));
    await joined;
    return c;
  }

  async function say(c: Client, nick: string, text: string): Promise<string> {
    const reply = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no reply in the room to "${text}"${adminBot.state()}`)),
        10_000,
      );
      const onStanza = (s: Stanza) => {
        const body = s.getChildText("body");
        if (
          s.is("message") &&
          s.attrs.from === `${room}/adminbot` &&
          body?.startsWith(`${nick}: `)
        ) {
          clearTimeout(timer);
          c.removeListener("stanza", onStanza);
          resolve(body.slice(nick.length + 2));
        }
      };
      c.on("stanza", onStanza);
    });
    await c.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, text)));
    return reply;
  }

  it("answers an admin who addresses it, and refuses a stranger in the same room", async () => {
    const a = await join(alice, "alice");
    const m = await join(mallory, "mal");
    expect((await say(a, "alice", "adminbot: what's down?")).split("\n")[0]).toMatch(/^DOWN web05/);
    expect(await say(m, "mal", "adminbot, status")).toBe(REFUSAL);
    expect(await say(a, "alice", "!status web06")).toMatch(/web06/);
  });
});
