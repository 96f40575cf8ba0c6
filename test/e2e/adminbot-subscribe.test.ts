/**
 * An operator on a phone XMPP client subscribes to alerts by chatting
 * "subscribe" to the AdminBot, and gets each alert as a chat message whose
 * first line is a short summary; the subscription survives a restart of the
 * bot (it is kept in the bot's roster); "unsubscribe" ends it.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { askBot } from "../helpers/chat.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";
import { sleep, waitFor } from "../helpers/wait.js";

type Stanza = ReturnType<typeof xml>;
// One check that stays ok on a busy machine: the only alerts are the host's own.
const AGENT_CONFIG = join(mkdtempSync(join(tmpdir(), "jabmon-phone-")), "agent.yml");
writeFileSync(AGENT_CONFIG, "checks:\n  - { type: uptime, name: uptime }\n");

const stack = useStack("adminbot-subscribe");
let component: RunningComponent;
let bot: Account;
let phone: Account;
let stranger: Account;
let adminBot: ReturnType<typeof spawnBot>;

/** `jabmon adminbot` with no rooms; resolves once it listens to the alerts node. */
function spawnBot() {
  const child = stack.spawnCli(["adminbot"], {
    ...process.env,
    JABMON_LOG_LEVEL: "info",
    JABMON_ADMINBOT_SERVICE: stack.ejabberd.c2sService,
    JABMON_ADMINBOT_CA_FILE: stack.caFile as string,
    JABMON_ADMINBOT_JID: bot.jid,
    JABMON_ADMINBOT_PASSWORD: bot.password,
    JABMON_COMPONENT_JID: stack.componentJid,
    JABMON_ADMINBOT_VIEWERS: phone.jid,
  });
  const state = () =>
    `\nAdminBot exit code ${child.exitCode}, last output:\n${child.output().slice(-3000)}`;
  const listening = waitFor(() => child.output().includes("listening to the alerts node"), {
    timeoutMs: 15_000,
    what: `the bot on the alerts node${state()}`,
  });
  return { process: child, state, listening };
}
let phoneClient: Client;
const received: string[] = [];

beforeAll(async () => {
  bot = await stack.account("adminbot");
  phone = await stack.account("oncall");
  stranger = await stack.account("stranger");
  component = await stack.startComponent({
    rpc: { admins: [bot.jid] },
    pubsub: { subscribers: [bot.jid] },
  });
  adminBot = spawnBot();
  await adminBot.listening;
  phoneClient = await stack.client(phone);
  await phoneClient.send(xml("presence"));
  phoneClient.on("stanza", (stanza: Stanza) => {
    const body = stanza.getChildText("body");
    if (stanza.is("message") && stanza.attrs.from?.startsWith(bot.jid) && body) received.push(body);
  });
}, 60_000);

/** An agent that comes online and is then killed: one host-down alert. */
async function hostGoesDown(user: string): Promise<void> {
  const account = await stack.account(user);
  const agent = stack.spawnAgent(account, {
    JABMON_AGENT_HOST: `${user}.example`,
    JABMON_AGENT_CONFIG: AGENT_CONFIG,
  });
  const url = component.httpUrl as string;
  await waitForHost(url, account.jid, (h) => h.online === true, 15_000);
  agent.kill("SIGKILL");
  await waitForHost(url, account.jid, (h) => h.online === false, 10_000);
}

const alertsAbout = (user: string) => received.filter((b) => b.includes(`${user}@localhost`));
const downAlerts = (user: string) => received.filter((b) => b.startsWith(`DOWN ${user} `));

describe("alerts to a phone through the AdminBot", () => {
  it("subscribes a viewer and sends each alert with a one-line summary first", async () => {
    const answer = await askBot(phoneClient, bot.jid, "subscribe", { diagnostics: adminBot.state });
    expect(answer).toMatch(/^Subscribed: every alert comes to oncall@localhost/);
    await hostGoesDown("phdown01");
    const body = await waitFor(() => downAlerts("phdown01")[0], {
      timeoutMs: 10_000,
      what: `the down alert on the phone${adminBot.state()}`,
    });
    const [first, ...rest] = body.split("\n");
    expect(first).toMatch(/^DOWN phdown01 #\d+$/);
    expect((first as string).length).toBeLessThanOrEqual(40);
    expect(rest).toEqual([
      "went offline",
      "phdown01.example (phdown01@localhost)",
      `Reply "ack ${first?.split("#")[1]}" to acknowledge.`,
    ]);
  });

  it("keeps the subscription across a restart of the bot (in its roster)", async () => {
    adminBot.process.kill("SIGTERM");
    await waitFor(() => adminBot.process.exitCode !== null, { timeoutMs: 10_000 });
    adminBot = spawnBot();
    await adminBot.listening;
    expect(adminBot.process.output()).toContain('"subscribers":1');
    await hostGoesDown("phdown02");
    const body = await waitFor(() => downAlerts("phdown02")[0], {
      timeoutMs: 10_000,
      what: `the alert after the restart${adminBot.state()}`,
    });
    expect(body.split("\n")[0]).toMatch(/^DOWN phdown02 #\d+$/);
  });

  it("refuses a stranger, and stops after unsubscribe", async () => {
    const strangerClient = await stack.client(stranger);
    expect(await askBot(strangerClient, bot.jid, "subscribe")).toMatch(/not|sorry/i);
    expect(await askBot(phoneClient, bot.jid, "unsubscribe")).toBe(
      "Unsubscribed: no more alerts from me.",
    );
    await hostGoesDown("phdown03");
    // The alert reaches the bot (it logs nothing per relay); give it ample time to be relayed.
    await sleep(3000);
    expect(alertsAbout("phdown03")).toEqual([]);
    expect(await askBot(phoneClient, bot.jid, "unsubscribe")).toBe(
      "You are not subscribed to alerts.",
    );
  });
});
