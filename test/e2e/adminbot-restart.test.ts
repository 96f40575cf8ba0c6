/**
 * The AdminBot lives for months: when ejabberd restarts under it, it must come
 * back by itself, answer chats again, and rejoin its room.
 */
import { type Client, xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import { askBot, startAdminBot, type TestAdminBot } from "../helpers/chat.js";
import { type Account, useStack } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

type Stanza = ReturnType<typeof xml>;
const NS_MUC = "http://jabber.org/protocol/muc";
const ROOM = "ops@conference.localhost";

const stack = useStack("adminbot-restart");
let bot: Account;
let alice: Account;
let adminBot: TestAdminBot;

beforeAll(async () => {
  bot = await stack.account("adminbot");
  alice = await stack.account("alice");
  await stack.startComponent({ rpc: { admins: [bot.jid] } });
  adminBot = await startAdminBot(stack, bot, { admins: alice.jid, room: ROOM });
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
    await stack.ejabberd.stop();
    // Counted once ejabberd is down: while it shuts down the bot may reconnect to
    // it (and even rejoin) for a moment, and that session dies with the server.
    const onlineBefore = adminBot.logCount("online");
    const joinsBefore = adminBot.logCount("joined room");
    await stack.ejabberd.start();
    await waitFor(() => adminBot.logCount("online") > onlineBefore, {
      timeoutMs: 40_000,
      what: `the AdminBot back online${adminBot.state()}`,
    });
    // Its presence and room join follow the "online" log line.
    await waitFor(() => adminBot.logCount("joined room") > joinsBefore, {
      timeoutMs: 10_000,
      what: `the AdminBot in its room again${adminBot.state()}`,
    });

    const after = await aliceOnline();
    expect(await askBot(after, bot.jid, "help", { diagnostics: adminBot.state })).toMatch(
      /^I understand:/,
    );
    expect(await askInRoom(after, "adminbot: help")).toMatch(/^I understand:/);
    expect(adminBot.process.exitCode).toBeNull();
  }, 90_000);

  it("takes its seat once the person holding its nick leaves (a refused join is tried again)", async () => {
    const room = "night@conference.localhost";
    const carol = await stack.account("carol");
    const squatter = await stack.client(carol);
    const seated = new Promise<void>((resolve) => {
      squatter.on("stanza", (s: Stanza) => {
        if (s.is("presence") && s.attrs.from === `${room}/late` && s.attrs.type !== "error")
          resolve();
      });
    });
    await squatter.send(xml("presence", { to: `${room}/late` }, xml("x", { xmlns: NS_MUC })));
    await seated;
    // Unlock the room carol created (XEP-0045 §10.1.2); a locked room refuses everyone else.
    await squatter.iqCaller.request(
      xml(
        "iq",
        { type: "set", to: room },
        xml(
          "query",
          { xmlns: `${NS_MUC}#owner` },
          xml("x", { xmlns: "jabber:x:data", type: "submit" }),
        ),
      ),
    );

    const second = await stack.account("adminbot2");
    const child = stack.spawnCli(["adminbot"], {
      ...process.env,
      JABMON_LOG_LEVEL: "info",
      JABMON_ADMINBOT_SERVICE: stack.ejabberd.c2sService,
      JABMON_ADMINBOT_JID: second.jid,
      JABMON_ADMINBOT_PASSWORD: second.password,
      JABMON_COMPONENT_JID: stack.componentJid,
      JABMON_ADMINBOT_ADMINS: alice.jid,
      JABMON_ADMINBOT_ROOMS: room,
      JABMON_ADMINBOT_NICK: "late",
      ...stack.tlsEnv("JABMON_ADMINBOT"),
    });
    const output = () => `\nlast output:\n${child.output().slice(-3000)}`;
    try {
      await waitFor(
        () => /"condition":"conflict".*not in room, joining again later/.test(child.output()),
        {
          timeoutMs: 20_000,
          what: `the second bot refused its nick${output()}`,
        },
      );
      expect(child.output()).not.toContain('"msg":"joined room"');
      await squatter.send(xml("presence", { to: `${room}/late`, type: "unavailable" }));
      await waitFor(() => child.output().includes('"msg":"joined room"'), {
        timeoutMs: 15_000,
        what: `the second bot in ${room} after the nick was freed${output()}`,
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}${output()}`);
    } finally {
      child.kill("SIGTERM");
      await squatter.stop();
    }
  }, 60_000);
});
