/**
 * Host dependencies (Nagios "parents"): a host declares the hosts it depends
 * on (`depends_on` in the agent's config, sent as the `depends` attribute of
 * its status presence), or the component's config gives rules by glob. While
 * a parent is down (offline) or critical (its score), its children's problems
 * are "unreachable": held, not alerted, and counted in the parent's alert.
 */
import type { Keys, Redis } from "../../store/index.js";
import type { AlertRecord } from "../alerts/record.js";
import type { AlertingKeys } from "./keys.js";
import { hostMatches } from "./match.js";
import type { DependencyRule } from "./settings.js";

/** A parent name as a bare JID: a name without `@` is a user of the child's domain. */
export function parentJid(name: string, childJid: string): string {
  if (name.includes("@")) return name.toLowerCase();
  const domain = childJid.split("@")[1] ?? "";
  return `${name}@${domain}`.toLowerCase();
}

export class DependencyMap {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly akeys: AlertingKeys,
    private readonly rules: DependencyRule[],
  ) {}

  /** What a host's presence declared (an empty list forgets it). */
  async declare(childJid: string, parents: string[]): Promise<void> {
    const jid = childJid.toLowerCase();
    if (parents.length === 0) {
      await this.redis.hdel(this.akeys.parents(), jid);
      return;
    }
    await this.redis
      .multi()
      .hset(this.akeys.parents(), jid, JSON.stringify(parents))
      .sadd(this.akeys.declaredParents(), ...parents.map((p) => parentJid(p, jid)))
      .exec();
  }

  /**
   * Is the alert's host some host's parent? Its alerts then wait as its
   * children's do, so that they are sent together: the parent's counting them.
   */
  async isParent(alert: Pick<AlertRecord, "jid" | "host">): Promise<boolean> {
    const jid = alert.jid.toLowerCase();
    const local = jid.split("@")[0] ?? "";
    const byRule = this.rules.some((rule) =>
      rule.parents.some((p) =>
        p.includes("@") ? p.toLowerCase() === jid : [local, alert.host].includes(p),
      ),
    );
    return byRule || (await this.redis.sismember(this.akeys.declaredParents(), jid)) === 1;
  }

  /** The parents of the alert's host, as bare JIDs (declared and by rule), never itself. */
  async parentsOf(alert: Pick<AlertRecord, "jid" | "host">): Promise<string[]> {
    const names = new Set<string>();
    const raw = await this.redis.hget(this.akeys.parents(), alert.jid.toLowerCase());
    if (raw) for (const n of JSON.parse(raw) as string[]) names.add(n);
    for (const rule of this.rules)
      if (hostMatches(rule.hosts, alert)) for (const n of rule.parents) names.add(n);
    const self = alert.jid.toLowerCase();
    return [...names].map((n) => parentJid(n, alert.jid)).filter((j) => j !== self);
  }

  /** The first parent that is down or critical now, if any. */
  async badParent(parents: string[]): Promise<string | undefined> {
    if (parents.length === 0) return undefined;
    const pipeline = this.redis.pipeline();
    for (const p of parents) pipeline.hmget(this.keys.host(p), "online", "scoreState");
    const replies = (await pipeline.exec()) ?? [];
    return parents.find((_, i) => {
      const [online, scoreState] = (replies[i]?.[1] ?? []) as Array<string | null>;
      return online === "0" || scoreState === "critical";
    });
  }

  /**
   * What explains the downs of `jids`: `explained`, the hosts with a parent
   * down now (a network fault, whatever its size); `parentUp`, the hosts none
   * of whose parents is down but one is online: it may yet go down, as a
   * switch's own session can end after those of the hosts behind it. The rest
   * have no parent, or only parents never seen (which cannot explain a down).
   * One round trip for the declarations, one for the parents' states. Rules
   * match on the JID's local part (the host name is not at hand here, as in
   * the plane's count).
   */
  async explainDowns(jids: string[]): Promise<DownsExplained> {
    const none: DownsExplained = { explained: new Set(), parentUp: new Set() };
    if (jids.length === 0) return none;
    const children = jids.map((j) => j.toLowerCase());
    const declared = await this.redis.hmget(this.akeys.parents(), ...children);
    const parentsOf = children.map((jid, i) => {
      const names = new Set<string>(declared[i] ? (JSON.parse(declared[i]) as string[]) : []);
      const alert = { jid, host: jid.split("@")[0] ?? "" };
      for (const rule of this.rules)
        if (hostMatches(rule.hosts, alert)) for (const n of rule.parents) names.add(n);
      return [...names].map((n) => parentJid(n, jid)).filter((p) => p !== jid);
    });
    const parents = [...new Set(parentsOf.flat())];
    if (parents.length === 0) return none;
    const pipeline = this.redis.pipeline();
    for (const p of parents) pipeline.hget(this.keys.host(p), "online");
    const replies = (await pipeline.exec()) ?? [];
    const online = new Map(parents.map((p, i) => [p, replies[i]?.[1] as string | null]));
    const explained = new Set<string>();
    const parentUp = new Set<string>();
    jids.forEach((jid, i) => {
      const states = (parentsOf[i] ?? []).map((p) => online.get(p));
      if (states.includes("0")) explained.add(jid);
      else if (states.includes("1")) parentUp.add(jid);
    });
    return { explained, parentUp };
  }
}

/** How the hosts' dependencies explain their downs (DependencyMap.explainDowns). */
export interface DownsExplained {
  /** A parent is down: the down is the parent's network fault. */
  explained: Set<string>;
  /** No parent is down, but one is online and may still go down. */
  parentUp: Set<string>;
}
