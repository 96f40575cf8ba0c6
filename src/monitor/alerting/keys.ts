/** Redis keys of the alerting policy, under the deployment's prefix. */
export class AlertingKeys {
  constructor(readonly prefix: string) {}
  /** Hash: child bare JID → JSON list of parent names (from presence). */
  parents(): string {
    return `${this.prefix}alerting:parents`;
  }
  /** Set: bare JIDs some host declared as its parent. */
  declaredParents(): string {
    return `${this.prefix}alerting:declared-parents`;
  }
  /** Set: problem keys of a parent's children held as unreachable. */
  children(parentJid: string): string {
    return `${this.prefix}alerting:children:${parentJid}`;
  }
  /** Hash: problem key → JSON HeldAlert (unreachable or in downtime). */
  held(): string {
    return `${this.prefix}alerting:held`;
  }
  /** Zset: parent bare JID → when to look at its children again (after its recovery). */
  recheck(): string {
    return `${this.prefix}alerting:recheck`;
  }
  /** Zset: group key → when the group is sent. */
  groups(): string {
    return `${this.prefix}alerting:groups`;
  }
  /** List: the pending alerts of one group (prefix + group key). */
  groupPrefix(): string {
    return `${this.prefix}alerting:group:`;
  }
  /** Hash: group key → when it was last sent. */
  groupLast(): string {
    return `${this.prefix}alerting:grouplast`;
  }
  /** Hash: downtime id → JSON Downtime. */
  downtimes(): string {
    return `${this.prefix}alerting:downtimes`;
  }
  downtimeSeq(): string {
    return `${this.prefix}alerting:downtimes:seq`;
  }
  /** Hash: problem key of a host down waiting out its grace → "pending" or "recovered". */
  grace(): string {
    return `${this.prefix}alerting:grace`;
  }
  /** Zset: problem key → when its next escalation step is due. */
  escalations(): string {
    return `${this.prefix}alerting:escalations`;
  }
  /** Hash: problem key → JSON PendingEscalation. */
  escalationData(): string {
    return `${this.prefix}alerting:escalation`;
  }
  /** String counter per receiver and minute (rate limit); expires. */
  rate(receiver: string, minute: number): string {
    return `${this.prefix}alerting:rate:${receiver}:${minute}`;
  }
}
