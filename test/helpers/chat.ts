/**
 * The AdminBot in tests: starting it, and chatting with it from a test client
 * (send a message, wait for the bot's next reply). A bounce (the bot has no session) fails at once, with whatever
 * the caller can say about the bot, instead of passing for an answer. And the
 * chat the component itself sends a person (alerts to admin JIDs).
 */
import { type Client, xml } from "@xmpp/client";
import type { Account, TestStack } from "./stack.js";
import { waitFor } from "./wait.js";

type Stanza = ReturnType<typeof xml>;

export interface AskOptions {
  timeoutMs?: number;
  /** Appended to failure messages, e.g. the bot process's last output. */
  diagnostics?: () => string;
}

export async function askBot(
  client: Client,
  botJid: string,
  text: string,
  { timeoutMs = 10_000, diagnostics = () => "" }: AskOptions = {},
): Promise<string> {
  const reply = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no reply to "${text}"${diagnostics()}`)),
      timeoutMs,
    );
    const done = () => {
      clearTimeout(timer);
      client.removeListener("stanza", onStanza);
    };
    const onStanza = (stanza: Stanza) => {
      if (!stanza.is("message")) return;
      if (stanza.attrs.type === "error") {
        done();
        reject(new Error(`"${text}" bounced: ${stanza.toString()}${diagnostics()}`));
      } else if (stanza.attrs.from?.startsWith(botJid) && stanza.getChildText("body")) {
        done();
        resolve(stanza.getChildText("body") as string);
      }
    };
    client.on("stanza", onStanza);
  });
  await client.send(xml("message", { to: botJid, type: "chat" }, xml("body", {}, text)));
  return reply;
}

/**
 * An online client of `account` that hands `onBody` the body of every message
 * the component sends it (alert notifications to alerts.adminJids or a
 * receiver). Available first: chat to a bare JID reaches available resources only.
 */
export async function componentChat(
  stack: TestStack,
  account: Account,
  onBody: (body: string) => void,
): Promise<Client> {
  const client = await stack.client(account);
  await client.send(xml("presence"));
  client.on("stanza", (stanza: Stanza) => {
    if (stanza.is("message") && stanza.attrs.from === stack.componentJid) {
      const body = stanza.getChildText("body");
      if (body) onBody(body);
    }
  });
  return client;
}

/** A `jabmon adminbot` child process, with what tests need to explain a failure. */
export interface TestAdminBot {
  process: ReturnType<TestStack["spawnCli"]>;
  /** Exit code and last output, appended to failure messages. */
  state(): string;
  /** How often the bot has logged a message (e.g. "online": each (re)connection). */
  logCount(msg: string): number;
}

/** Start the AdminBot as `bot` for these people; resolves once it has set up its room. */
export async function startAdminBot(
  stack: TestStack,
  bot: Account,
  people: { admins: string; viewers?: string; room: string },
): Promise<TestAdminBot> {
  const child = stack.spawnCli(["adminbot"], {
    ...process.env,
    JABMON_LOG_LEVEL: "info",
    JABMON_ADMINBOT_SERVICE: stack.ejabberd.c2sService,
    JABMON_ADMINBOT_JID: bot.jid,
    JABMON_ADMINBOT_PASSWORD: bot.password,
    JABMON_COMPONENT_JID: stack.componentJid,
    JABMON_ADMINBOT_ADMINS: people.admins,
    ...(people.viewers ? { JABMON_ADMINBOT_VIEWERS: people.viewers } : {}),
    JABMON_ADMINBOT_ROOMS: people.room,
    ...stack.tlsEnv("JABMON_ADMINBOT"),
  });
  const running: TestAdminBot = {
    process: child,
    state: () =>
      `\nAdminBot exit code ${child.exitCode}, last output:\n${child.output().slice(-3000)}`,
    logCount: (msg) => child.output().split(`"msg":"${msg}"`).length - 1,
  };
  await waitFor(() => child.output().includes("room created and configured"), {
    timeoutMs: 15_000,
    what: `the AdminBot in ${people.room}${running.state()}`,
  });
  return running;
}
