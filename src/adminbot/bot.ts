/**
 * The AdminBot's XMPP side: an ordinary client account that admins chat
 * with, one to one or in MUC rooms (XEP-0045), and that makes Jabber-RPC
 * calls (XEP-0009) to the component with its own JID (which must be in the
 * component's rpc.admins). It authorises people itself, from its own
 * admins/viewers lists: in a room by the occupant's real JID, which the bot
 * sees as the room's owner (it configures rooms it creates as non-anonymous).
 *
 * https://xmpp.org/extensions/xep-0045.html  https://xmpp.org/extensions/xep-0009.html
 */

import { xml } from "@xmpp/client";
import { createClient } from "../client/index.js";
import type { AdminBotConfig } from "../config/index.js";
import type { Logger } from "../log/index.js";
import { NS_RPC } from "../protocol/index.js";
import {
  allPages,
  decodeMethodResponse,
  methodCallQuery,
  RpcFault,
  type RpcStruct,
  type RpcValue,
  readPage,
} from "../rpc/index.js";
import {
  bareJid,
  type Element,
  keepConnected,
  keepRoomSeat,
  mucUnlock,
  NS_MUC_USER,
} from "../xmpp/index.js";
import {
  asHost,
  type CheckOutcome,
  durationText,
  formatAck,
  formatAlerts,
  formatCheckOutcomes,
  formatDown,
  formatDowntimes,
  formatHelp,
  formatHosts,
  formatOverview,
  formatSilences,
  formatUnack,
  formatUnknown,
  MAX_LINES,
  READ_ONLY_REFUSAL,
  REFUSAL,
} from "./format.js";
import { type Command, parseCommand, READ_COMMANDS } from "./parse.js";
import { AlertSubscribers } from "./subscriptions.js";

const NS_DELAY = "urn:xmpp:delay";
const MAX_TARGETS = 20;

type Role = "admin" | "viewer";
type Stanza = ReturnType<typeof xml>;

export interface RunningAdminBot {
  stop(): Promise<void>;
}

/**
 * The monitor records the bot's JID as the RPC caller; the person it acts for
 * goes into the comment: "alice@example.org: looking into it".
 */
const onBehalf = (who: string, comment: string) =>
  who ? `${bareJid(who)}${comment ? `: ${comment}` : ""}` : comment;

/** A fault as a sentence: "No alert #42." */
function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export async function startAdminBot(config: AdminBotConfig, log: Logger): Promise<RunningAdminBot> {
  const [username, domain] = config.xmpp.jid.split("@") as [string, string];
  const xmpp = createClient({
    service: config.xmpp.service,
    domain,
    username,
    password: config.xmpp.password,
    resource: config.xmpp.resource,
    caFile: config.xmpp.caFile,
    insecure: config.xmpp.insecure,
  });
  const component = config.xmpp.component;
  const admins = new Set(config.admins.map((j) => j.toLowerCase()));
  const viewers = new Set(config.viewers.map((j) => j.toLowerCase()));
  const rooms = new Set(config.rooms.map((r) => r.toLowerCase()));
  const roleOf = (jid: string | undefined): Role | undefined =>
    jid === undefined
      ? undefined
      : admins.has(jid)
        ? "admin"
        : viewers.has(jid)
          ? "viewer"
          : undefined;
  /** room/nick → occupant's real bare JID. */
  const occupants = new Map<string, string>();

  const send = (stanza: Stanza | Element) =>
    xmpp.send(stanza as never).catch((err: Error) => log.warn({ err: err.message }, "send failed"));
  const subscribers = new AlertSubscribers({ xmpp, component, log });
  /** We created the room (status 201): unlock it, with real JIDs visible so we can authorise people. */
  const configureRoom = (room: string) =>
    xmpp.iqCaller
      .request(
        mucUnlock(room, {
          "muc#roomconfig_whois": "anyone",
          "muc#roomconfig_persistentroom": "1",
        }) as never,
      )
      .then(
        () => log.info({ room }, "room created and configured"),
        (err: Error) => log.warn({ room, err: err.message }, "cannot configure room"),
      );
  /** One seat per room; the join asks for no history, so old commands do not run again. */
  const seats = new Map(
    [...rooms].map((room) => [
      room,
      keepRoomSeat({
        room,
        nick: config.nick,
        send: (stanza) => void send(stanza),
        log,
        onJoined: (codes) => {
          if (codes.includes("201")) void configureRoom(room);
        },
      }),
    ]),
  );

  async function rpc(method: string, params: RpcValue[] = [], timeoutMs = config.callTimeoutMs) {
    // iqCaller matches the reply by id, so an element from our (CommonJS) ltx is fine here.
    const iq = xml("iq", { type: "set", to: component }) as Stanza;
    iq.cnode(methodCallQuery(method, params) as never);
    let reply: Stanza;
    try {
      reply = await xmpp.iqCaller.request(iq, timeoutMs);
    } catch (err) {
      const e = err as Error & { condition?: string; text?: string };
      if (e.name === "TimeoutError")
        throw new RpcFault(-32004, "the monitor did not answer in time");
      throw new RpcFault(-32004, `the monitor refused: ${e.text || e.condition || e.message}`);
    }
    const answer = reply.getChild("query", NS_RPC);
    if (!answer) throw new RpcFault(-32004, "the monitor sent an empty answer");
    const response = decodeMethodResponse(answer as never);
    if (!response.ok) throw new RpcFault(response.code, response.message);
    return response.value;
  }

  /**
   * Every host (matching a glob), page by page: one answer for the whole
   * fleet would be too large to send (docs/rpc.md, "Pages").
   */
  const listHosts = async (pattern = "") =>
    (await allPages("hosts.list", (page) => rpc("hosts.list", [pattern, page]))).map(asHost);

  /** The first entries of a list (enough for one answer) and how many there are. */
  const firstPage = async (method: string) =>
    readPage(method, await rpc(method, [{ limit: MAX_LINES }]));

  async function targets(pattern: string) {
    const page = readPage("hosts.list", await rpc("hosts.list", [pattern, { limit: MAX_TARGETS }]));
    if (page.total > MAX_TARGETS)
      throw new RpcFault(
        -32602,
        `${pattern} matches ${page.total} hosts; narrow it to ${MAX_TARGETS} or fewer`,
      );
    // A page cut short by the reply limit: the rest is in the next ones.
    return page.more ? listHosts(pattern) : page.items.map(asHost);
  }

  /** Runs a command and returns the reply text; `interim` sends a line before a long wait. */
  async function execute(
    command: Command,
    role: Role,
    who: string,
    interim: (text: string) => void,
  ) {
    const now = new Date();
    switch (command.kind) {
      case "help":
        return formatHelp(role);
      case "unknown":
        return formatUnknown(command.text, command.suggestions);
      case "overview":
        return formatOverview(await listHosts(), now);
      case "down": {
        const hosts = await listHosts();
        const { state } = command;
        return formatDown(
          hosts.filter((h) => (state ? h.state === state : h.state !== "ok")),
          hosts.length,
          now,
          state,
        );
      }
      case "hosts":
        return formatHosts(command.pattern, await listHosts(command.pattern), now);
      case "check":
      case "run": {
        const hosts = await targets(command.pattern);
        if (hosts.length === 0) return `No host matches ${command.pattern}.`;
        // "disk on db*" asks about hosts as they are now; "run" waits for offline ones.
        const queue = command.kind === "run";
        const offline = hosts.filter((h) => !h.online).map((h) => h.host);
        if (queue && offline.length > 0)
          interim(
            `${offline.join(", ")} ${offline.length === 1 ? "is" : "are"} offline: queued, expires in ${durationText(config.runExpiryS)}.`,
          );
        const outcomes = await Promise.all(
          hosts.map(async (h): Promise<CheckOutcome> => {
            const name = h.jid.split("@")[0] || h.host;
            try {
              const result = await rpc(
                "check.run",
                [h.jid, command.check, queue ? config.runExpiryS : 0],
                queue ? (config.runExpiryS + 30) * 1000 : config.callTimeoutMs,
              );
              return { host: name, result: result as RpcStruct };
            } catch (err) {
              const message = (err as Error).message.replace(`${h.jid}: `, "");
              return { host: name, error: h.online ? message : "offline" };
            }
          }),
        );
        return formatCheckOutcomes(command.check, outcomes);
      }
      case "reload": {
        const hosts = await targets(command.pattern);
        if (hosts.length === 0) return `No host matches ${command.pattern}.`;
        const lines = await Promise.all(
          hosts.map(async (h) => {
            try {
              const result = (await rpc("agent.reload", [h.jid, 0])) as RpcStruct;
              return `${h.host}: ${String(result.message ?? "reloaded")}`;
            } catch (err) {
              return `${h.host}: ${(err as Error).message.replace(`${h.jid}: `, "")}`;
            }
          }),
        );
        return lines.join("\n");
      }
      case "alerts": {
        const { items, total } = await firstPage("alerts.list");
        return formatAlerts(items, now, total);
      }
      case "ack":
        return formatAck(await rpc("alert.ack", [command.id, onBehalf(who, command.comment)]));
      case "unack":
        return formatUnack(await rpc("alert.unack", [command.id]));
      case "silence": {
        const result = (await rpc("silence.add", [
          command.pattern,
          command.durationS,
          onBehalf(who, command.comment),
        ])) as RpcStruct;
        const id = result?.id !== undefined ? ` (#${String(result.id)})` : "";
        return `Silenced ${command.pattern} for ${durationText(command.durationS)}${id}.`;
      }
      case "silences": {
        const { items, total } = await firstPage("silence.list");
        return formatSilences(items, now, total);
      }
      case "unsilence":
        await rpc("silence.remove", [command.id]);
        return `Silence #${command.id} ended.`;
      case "subscribe":
        return subscribers.add(who);
      case "unsubscribe":
        return subscribers.remove(who);
      case "modules": {
        if (command.name) {
          const s = (await rpc("modules.status", [command.name])) as RpcStruct;
          const canary = Number(s.canary) < 100 ? ` (canary ${String(s.canary)}%)` : "";
          return `${command.name}: current v${String(s.current)}${canary}; ${String(s.text)}.`;
        }
        const list = (await rpc("modules.list")) as RpcStruct[];
        if (list.length === 0) return "No check modules.";
        return list
          .map(
            (m) =>
              `${String(m.name)} v${String(m.version)}${Number(m.canary) < 100 ? ` (canary ${String(m.canary)}%)` : ""}`,
          )
          .join("\n");
      }
      case "downtime": {
        const result = (await rpc("downtime.add", [
          command.pattern,
          command.durationS,
          onBehalf(who, command.comment),
        ])) as RpcStruct;
        const id = result?.id !== undefined ? ` (#${String(result.id)})` : "";
        return `Downtime for ${command.pattern} for ${durationText(command.durationS)}${id}: problems are recorded, not notified; those still open at the end are notified then.`;
      }
      case "downtimes": {
        const { items, total } = await firstPage("downtime.list");
        return formatDowntimes(items, now, total);
      }
      case "undowntime":
        await rpc("downtime.remove", [command.id]);
        return `Downtime #${command.id} ended.`;
    }
  }

  // Called without await from the stanza handler: it must never reject, or one
  // bad message would end the process (Node stops on an unhandled rejection).
  async function handle(text: string, who: string | undefined, reply: (text: string) => void) {
    try {
      const role = roleOf(who);
      if (!role) {
        log.info({ who }, "command from an unauthorised JID refused");
        reply(REFUSAL);
        return;
      }
      const command = parseCommand(text);
      log.info({ who, command: command.kind }, "command");
      if (role === "viewer" && !READ_COMMANDS.has(command.kind)) {
        reply(READ_ONLY_REFUSAL);
        return;
      }
      reply(await execute(command, role, who ?? "", reply));
    } catch (err) {
      if (err instanceof RpcFault) reply(`Could not do that: ${sentence(err.message)}`);
      else {
        log.error({ err }, "command failed");
        reply("Sorry, something went wrong on my side; the log has the details.");
      }
    }
  }

  function onMessage(stanza: Stanza) {
    const body = stanza.getChildText("body");
    const from = String(stanza.attrs.from ?? "");
    if (!body || stanza.attrs.type === "error" || stanza.getChild("delay", NS_DELAY)) return;
    if (stanza.attrs.type === "groupchat") {
      const room = bareJid(from);
      const nick = from.slice(from.indexOf("/") + 1);
      if (!rooms.has(room) || !from.includes("/") || nick === config.nick) return;
      // In a room the bot answers only when addressed: "adminbot: status" or "!status".
      const addressed = new RegExp(
        `^\\s*@?${config.nick.replace(/[^\w-]/g, "\\$&")}\\s*[:,]\\s*`,
        "i",
      );
      let text: string | undefined;
      if (addressed.test(body)) text = body.replace(addressed, "");
      else if (body.trimStart().startsWith("!")) text = body.trimStart().slice(1);
      if (text === undefined) return;
      void handle(text, occupants.get(from), (answer) =>
        send(
          xml("message", { to: room, type: "groupchat" }, xml("body", {}, `${nick}: ${answer}`)),
        ),
      );
      return;
    }
    if (stanza.attrs.type === "chat" || stanza.attrs.type === "normal" || !stanza.attrs.type) {
      void handle(body, bareJid(from), (answer) =>
        send(xml("message", { to: from, type: "chat" }, xml("body", {}, answer))),
      );
    }
  }

  function onPresence(stanza: Stanza) {
    const from = String(stanza.attrs.from ?? "");
    const seat = seats.get(bareJid(from));
    if (!seat) return;
    // Our own presence (or a refusal of our join) carries no occupant to track.
    if (seat.onPresence(stanza as Element)) return;
    const x = stanza.getChild("x", NS_MUC_USER);
    if (!x) return;
    if (stanza.attrs.type === "unavailable") {
      occupants.delete(from);
      return;
    }
    const realJid = x.getChild("item")?.attrs.jid;
    if (realJid) occupants.set(from, bareJid(realJid));
  }

  xmpp.on("stanza", (stanza: Stanza) => {
    if (stanza.is("message")) {
      if (!subscribers.relay(stanza, send)) onMessage(stanza);
    } else if (stanza.is("presence")) onPresence(stanza);
  });

  // Stale timers must not send joins on a dead connection; onOnline joins again.
  xmpp.on("disconnect", () => {
    for (const seat of seats.values()) seat.stop();
  });
  const keeper = keepConnected(xmpp, {
    log,
    onOnline: () => {
      occupants.clear();
      void send(xml("presence", {}, xml("status", {}, 'Say "help" for what I can do.')));
      subscribers
        .online()
        .catch((err: Error) => log.warn({ err: err.message }, "cannot read the alert subscribers"));
      for (const seat of seats.values()) seat.join();
    },
  });
  await keeper.firstOnline;
  log.info({ jid: config.xmpp.jid, rooms: [...rooms] }, "AdminBot online");
  return {
    stop: () => {
      for (const seat of seats.values()) seat.stop();
      return keeper.stop();
    },
  };
}
