/**
 * `jabmon alertbot` end to end: real ejabberd, the component, two alertbot
 * processes (all agents, and `web*`), agents publishing as plain XMPP clients.
 */
import type { Client } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import { check, errorOf, iq, publishIq } from "../helpers/pubsub.js";
import { type Account, type TestStack, useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("alertbot");
let web: { account: Account; client: Client };
let db: { account: Account; client: Client };
let botAll: ReturnType<TestStack["spawnCli"]>;
let botWeb: ReturnType<TestStack["spawnCli"]>;
let lateAccount: Account;

/** Lines an alertbot printed for items: `<agent> <payload XML>`. */
const itemLines = (bot: { output: () => string }) =>
  bot
    .output()
    .split("\n")
    .filter((line) => /^\S+@\S+ <(check|alert) /.test(line));

async function publish(agent: { account: Account; client: Client }, seq: number, state: string) {
  const reply = await iq(
    agent.client,
    stack.componentJid,
    "set",
    publishIq(`agents/${agent.account.jid}`, check(seq, { name: "http", state })),
  );
  expect(errorOf(reply)).toBeUndefined();
}

function spawnBot(account: Account, filter: string, rediscoverMs = "300") {
  return stack.spawnCli(["alertbot", "--filter", filter, "--rediscover-ms", rediscoverMs], {
    ...process.env,
    JABMON_LOG_LEVEL: "info",
    JABMON_ALERTBOT_SERVICE: stack.ejabberd.c2sService,
    JABMON_ALERTBOT_JID: account.jid,
    JABMON_ALERTBOT_PASSWORD: account.password,
    JABMON_COMPONENT_JID: stack.componentJid,
    ...stack.tlsEnv("JABMON_ALERTBOT"),
  });
}

const subscribedTo = (bot: { output: () => string }, node: string) =>
  bot.output().includes(`"node":"${node}","msg":"subscribed"`);

beforeAll(async () => {
  const allAccount = await stack.account("botall");
  const webBotAccount = await stack.account("botweb");
  lateAccount = await stack.account("botapp");
  // One agent per disco#items page: the bots find both only by paging (XEP-0059).
  await stack.startComponent({
    pubsub: { subscribers: [allAccount.jid, webBotAccount.jid, lateAccount.jid], maxDiscoItems: 1 },
  });
  const webAccount = await stack.account("web01");
  const dbAccount = await stack.account("db01");
  web = { account: webAccount, client: await stack.client(webAccount) };
  db = { account: dbAccount, client: await stack.client(dbAccount) };
  // The agents' first results create their nodes (listed under alertpublishers).
  await publish(web, 1, "ok");
  await publish(db, 1, "ok");
  botAll = spawnBot(allAccount, "*");
  botWeb = spawnBot(webBotAccount, "web*");
});

describe("jabmon alertbot", () => {
  it("finds the agents by paged disco and subscribes to all, or to those matching the filter", async () => {
    await waitFor(
      () =>
        subscribedTo(botAll, "agents/web01@localhost") &&
        subscribedTo(botAll, "agents/db01@localhost") &&
        subscribedTo(botAll, "alerts") &&
        subscribedTo(botWeb, "agents/web01@localhost") &&
        subscribedTo(botWeb, "alerts"),
      { timeoutMs: 15_000, what: "both alertbots subscribed" },
    );
    expect(subscribedTo(botWeb, "agents/db01@localhost")).toBe(false);
  });

  it("receives what agents publish and their alerts; the filtered bot only its agents'", async () => {
    await publish(web, 2, "critical");
    await publish(db, 2, "critical");
    const all = await waitFor(
      () => {
        const lines = itemLines(botAll);
        return lines.length >= 4 ? lines : undefined;
      },
      { timeoutMs: 10_000, what: "two results and two alerts at the unfiltered bot" },
    );
    const summary = (lines: string[]) =>
      lines.map((l) => `${l.split(" ")[0]} ${l.includes("<alert ") ? "alert" : "check"}`).sort();
    expect(summary(all)).toEqual([
      "db01@localhost alert",
      "db01@localhost check",
      "web01@localhost alert",
      "web01@localhost check",
    ]);
    const alertLine = all.find((l) => l.startsWith("web01@localhost <alert ")) as string;
    expect(alertLine).toContain('kind="check"');
    expect(alertLine).toContain('state="critical"');
    const checkLine = all.find((l) => l.startsWith("web01@localhost <check ")) as string;
    expect(checkLine).toContain('seq="2"');

    await waitFor(() => itemLines(botWeb).length >= 2, {
      timeoutMs: 10_000,
      what: "web01's result and alert at the filtered bot",
    });
    // db01's were sent at the same time as web01's: give any stray one time to arrive.
    await new Promise((r) => setTimeout(r, 500));
    expect(summary(itemLines(botWeb))).toEqual(["web01@localhost alert", "web01@localhost check"]);
  });

  it("subscribes to a new agent's node when the service announces it, without rediscovery", async () => {
    const bot = spawnBot(lateAccount, "app*", "3600000");
    await waitFor(() => subscribedTo(bot, "alerts") && subscribedTo(bot, "alertpublishers"), {
      timeoutMs: 15_000,
      what: "the bot's first discovery done",
    });
    const appAccount = await stack.account("app01");
    const app = { account: appAccount, client: await stack.client(appAccount) };
    await publish(app, 1, "ok"); // creates agents/app01@localhost
    const results = () => itemLines(bot).filter((l) => l.startsWith("app01@localhost <check "));
    // Its first result too: on a brand-new node the last item is news, not history.
    await waitFor(() => results().some((l) => l.includes('seq="1"')), {
      timeoutMs: 5000,
      what: "the new agent's first result at the bot",
    });
    expect(subscribedTo(bot, "agents/app01@localhost")).toBe(true);
    await publish(app, 2, "ok");
    await waitFor(() => results().some((l) => l.includes('seq="2"')), {
      timeoutMs: 5000,
      what: "its second result",
    });
    expect(results()).toHaveLength(2);
  });
});
