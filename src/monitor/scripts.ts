/**
 * Lua scripts of the monitor (docs/monitor.md), one file each in lua/ with
 * its KEYS and ARGV. One state change = one script.
 *
 * Open problems (src/monitor/alerts/problems.ts): one hash, field
 * "<jid>|<kind>|<check>", value JSON
 *   {since, alert, notified?, count, acknowledged}
 * `since`: when the problem's first alert was raised (ms); `alert`: its latest
 * dispatched alert (reminders included); `notified`: the latest first
 * notification of a re-notified kind, which reminders repeat; `count`:
 * reminders written since `notified`; `acknowledged`: no reminders. The
 * schedule zset holds the fields due for a reminder, by due time (ms).
 */
import { luaScript } from "../store/index.js";

export const CLAIM_DUE_RETRIES = luaScript(import.meta.url, "claimDueRetries-2");
export const COMMIT_ENTRIES = luaScript(import.meta.url, "commitEntries");
export const LEASE_ACQUIRE = luaScript(import.meta.url, "leaseAcquire-1");
export const LEASE_RELEASE = luaScript(import.meta.url, "leaseRelease-1");
export const SET_SCORE = luaScript(import.meta.url, "setScore-3");
export const LIVE_ALERT = luaScript(import.meta.url, "liveAlert-2");
export const RECORD_PROBLEM = luaScript(import.meta.url, "recordProblem-2");
export const ACKNOWLEDGE_PROBLEMS = luaScript(import.meta.url, "acknowledgeProblems-2");
export const UNACKNOWLEDGE_PROBLEMS = luaScript(import.meta.url, "unacknowledgeProblems-2");
export const RENOTIFY_DUE = luaScript(import.meta.url, "renotifyDue-3");
export const PLANE_OPEN = luaScript(import.meta.url, "planeOpen-3");
export const PLANE_CLOSE = luaScript(import.meta.url, "planeClose-5");
