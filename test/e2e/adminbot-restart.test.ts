/**
 * The AdminBot lives for months: when ejabberd restarts under it, it must come
 * back by itself, answer chats again, and rejoin its room.
 */
import { type Client, xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { askBot, startAdminBot, type TestAdminBot } from "../helpers/chat.js";
import { type Account, TestStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

type Stanza = ReturnType<typeof xml>;
const NS_MUC = "http://jabber.org/protocol/muc";
const ROOM = "ops@conference.localhost";

let stack: TestStack;
let bot: Account;
let alice: Account;
let adminBot: TestAdminBot;

beforeAll(async () => {
  stack = await TestStack.start("adminbot-restart");
  bot = await stack.account("adminbot");
  alice = await stack.account("alice");
  await stack.startComponent({ rpc: { admins: [bot.jid] } });
  adminBot = await startAdminBot(stack, bot, { admins: alice.jid, room: ROOM });
});
afterAll(async () => {
  await stack?.cleanup();
});

/** A fresh client for alice, online (the old ones died with the server). */
async function aliceOnline(): Promise<Client> {
  const client = await stack.client(alice);
  await client.send(xml("presence"));
  return client;
}

/** Join the room as alice and return the bot's answer to `text` there. */
async function askInRoom(client: Client, text: string): Promise<string> {
  const joined = new Promise<void>((resolve) => {
    const onJoin = (s: Stanza) => {
      if (s.is("presence") && s.attrs.from === `${ROOM}/alice` && s.attrs.type !== "error") {
        client.removeListener("stanza", onJoin);
        resolve();
      }
    };
    client.on("stanza", onJoin);
  });
  await client.send(xml("presence", { to: `${ROOM}/alice` }, xml("x", { xmlns: NS_MUC })));
  await joined;
  const answer = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer in the room${adminBot.state()}`)),
      10_000,
    );
    const onStanza = (s: Stanza) => {
      const body = s.getChildText("body");
      if (s.is("message") && s.attrs.from === `${ROOM}/adminbot` && body?.startsWith("alice: ")) {
        clearTimeout(timer);
        client.removeListener("stanza", onStanza);
        resolve(body.slice("alice: ".length));
      }
    };
    client.on("stanza", onStanza);
  });
  await client.send(xml("message", { to: ROOM, type: "groupchat" }, xml("body", {}, text)));
  return answer;
}

describe("the AdminBot across an ejabberd restart", () => {
  it("reconnects by itself, answers chats again and rejoins its room", async () => {
    const before = await aliceOnline();
    expect(await askBot(before, bot.jid, "help", { diagnostics: adminBot.state })).toMatch(
      /^I understand:/,
    );
    const onlineBefore = adminBot.logCount("online");
    const joinsBefore = adminBot.logCount("joined room");

    await stack.ejabberd.stop();
    await stack.ejabberd.start();
    await waitFor(() => adminBot.logCount("online") > onlineBefore, {
      timeoutMs: 40_000,
      what: `the AdminBot back online${adminBot.state()}`,
    });
    // Its presence and room join follow the "online" log line.
    await waitFor(() => adminBot.logCount("joined room") > joinsBefore, {
      timeoutMs: 10_000,
      what: "the AdminBot in its room again",
    });

    const after = await aliceOnline();
    expect(await askBot(after, bot.jid, "help", { diagnostics: adminBot.state })).toMatch(
      /^I understand:/,
    );
    expect(await askInRoom(after, "adminbot: help")).toMatch(/^I understand:/);
    expect(adminBot.process.exitCode).toBeNull();
  }, 90_000);
});
