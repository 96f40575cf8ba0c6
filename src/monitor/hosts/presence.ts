/**
 * Presence is liveness. Every agent sends directed presence to the component;
 * ejabberd sends `unavailable` on the agent's behalf when its connection dies,
 * so a host is marked offline the moment its session ends.
 *
 * After the component itself reconnects it has missed whatever happened
 * meanwhile, so it sends its presence to every host it believes online; an
 * agent answers with its current status presence, and hosts that do not answer
 * within `presenceConfirmMs` are marked offline.
 */
import { EventEmitter } from "node:events";
import type { ComponentLink } from "../../component/index.js";
import type { Logger } from "../../log/index.js";
import { type AgentPolicy, agentPolicy, parseStatusPresence } from "../../protocol/index.js";
import type { HostRecord, HostStore } from "../../store/index.js";
import { bareJid, type Element, el } from "../../xmpp/index.js";

export interface PresenceEvents {
  hostOnline: [jid: string];
  hostOffline: [jid: string, reason: string];
}

export interface PresenceTrackerOptions {
  link: ComponentLink;
  hosts: HostStore;
  log: Logger;
  agentDomains: string[];
  /** Bare-JID patterns of the agents (docs/security.md); empty: every user of agentDomains. */
  agents?: string[];
  presenceConfirmMs: number;
  maxPresencePayloadBytes: number;
}

export class PresenceTracker extends EventEmitter<PresenceEvents> {
  readonly #options: PresenceTrackerOptions;
  readonly #policy: AgentPolicy;
  #confirmTimer: NodeJS.Timeout | undefined;

  constructor(options: PresenceTrackerOptions) {
    super();
    this.#options = options;
    this.#policy = agentPolicy(options);
    options.link.router.onPresence((stanza) => this.#onPresence(stanza));
    options.link.onOnline(() => void this.#reprobe());
  }

  /** Whether a bare JID counts as an agent (the one policy; docs/security.md). */
  isAgent(bare: string): boolean {
    return this.#policy.isAgent(bare);
  }

  stop(): void {
    clearTimeout(this.#confirmTimer);
  }

  async #onPresence(stanza: Element): Promise<void> {
    const from = stanza.attrs.from as string | undefined;
    if (!from) return;
    const bare = bareJid(from);
    const type = stanza.attrs.type as string | undefined;
    if (type === "probe") {
      this.#options.link.send(el("presence", { to: from }));
      return;
    }
    if (!this.#policy.isAgent(bare)) {
      this.#options.log.debug({ from }, "presence from a non-agent ignored");
      return;
    }
    if (type === undefined) await this.#onAvailable(bare, from, stanza);
    else if (type === "unavailable") await this.#wentOffline(bare, from, "went offline");
    else if (type === "error") await this.#wentOffline(bare, from, "presence bounced");
  }

  async #onAvailable(bare: string, full: string, stanza: Element): Promise<void> {
    const { log, hosts, maxPresencePayloadBytes } = this.#options;
    const { status, problems } = parseStatusPresence(stanza, maxPresencePayloadBytes);
    if (problems.length > 0)
      log.warn({ jid: full, problems }, "agent presence payload had problems");
    // A host name is bound to the first JID that claims it: another agent
    // cannot pass itself off as that host (its own name stays as it was).
    let host = status.host;
    if (host !== undefined && !(await hosts.claimName(bare, host))) {
      log.warn({ jid: full, host }, "host name claimed by another agent: refused");
      host = undefined;
    }
    const cameOnline = await hosts.recordPresence(bare, full, {
      host,
      state: status.state,
      status: status.summary,
      version: status.version,
      checks: status.checks,
      failing: status.failing,
      groups: status.groups?.join(" "),
      modules: status.modules?.join(" "),
    });
    if (cameOnline) {
      log.info({ jid: full, state: status.state }, "host online");
      this.emit("hostOnline", bare);
    }
  }

  async #wentOffline(bare: string, full: string, reason: string): Promise<void> {
    if (await this.#options.hosts.markOffline(bare, full, reason)) {
      this.#options.log.info({ jid: full, reason }, "host offline");
      this.emit("hostOffline", bare, reason);
    }
  }

  async #reprobe(): Promise<void> {
    const { hosts, link, log, presenceConfirmMs } = this.#options;
    const probeStart = Date.now();
    let known: HostRecord[];
    try {
      known = await hosts.list();
    } catch (err) {
      log.error({ err }, "cannot list hosts to re-probe");
      return;
    }
    // To the bare JID, so every session of the account gets it: an agent that
    // reconnected while we were away (its presence bounced) answers too.
    log.info({ hosts: known.length }, "re-probing every known host");
    for (const host of known) link.send(el("presence", { to: host.jid }));
    const believedOnline = known.filter((h) => h.online).map((h) => h.jid);
    clearTimeout(this.#confirmTimer);
    this.#confirmTimer = setTimeout(
      () => void this.#expireUnconfirmed(believedOnline, probeStart),
      presenceConfirmMs,
    );
    this.#confirmTimer.unref();
  }

  async #expireUnconfirmed(jids: string[], probeStart: number): Promise<void> {
    const reason = "no presence after the component reconnected";
    for (const jid of jids) {
      if (await this.#options.hosts.markStaleOffline(jid, probeStart, reason)) {
        this.#options.log.info({ jid, reason }, "host offline");
        this.emit("hostOffline", jid, reason);
      }
    }
  }
}
