/** Which names of an alert's host a glob is matched against (as silences and hosts.list). */

import { globMatch } from "../../protocol/index.js";
import type { AlertRecord } from "../alerts/record.js";

export function hostNames(alert: Pick<AlertRecord, "jid" | "host">): string[] {
  return [
    alert.jid,
    alert.jid.split("@")[0] ?? "",
    alert.host,
    alert.host.split(".")[0] ?? "",
  ].filter(Boolean);
}

export function hostMatches(glob: string, alert: Pick<AlertRecord, "jid" | "host">): boolean {
  return hostNames(alert).some((name) => globMatch(glob, name));
}

/** `*` also matches host-level alerts (empty check), as silences do. */
export function checkMatches(glob: string, check: string): boolean {
  return glob === "*" || globMatch(glob, check);
}
