/**
 * The AdminBot: admins chat with it (one to one or in a MUC room) and it
 * turns what they type into Jabber-RPC calls to the component, answering in
 * short readable lines. `jabmon adminbot` runs it.
 */

export { type RunningAdminBot, startAdminBot } from "./bot.js";
export {
  ago,
  alertLine,
  asHost,
  type CheckOutcome,
  durationText,
  formatAck,
  formatAlerts,
  formatCheckOutcomes,
  formatDown,
  formatHelp,
  formatHosts,
  formatOverview,
  formatSilences,
  formatUnack,
  formatUnknown,
  type HostView,
  hostLine,
  READ_ONLY_REFUSAL,
  REFUSAL,
  sortWorstFirst,
} from "./format.js";
export {
  COMMAND_HELP,
  type Command,
  editDistance,
  parseCommand,
  READ_COMMANDS,
  suggest,
} from "./parse.js";
export { ALERTS_GROUP, type AlertFields, AlertSubscribers, phoneAlert } from "./subscriptions.js";
