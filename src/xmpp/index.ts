export { assembleClient, type ClientOptions, type XmppClient } from "./client.js";
export { CONDITION_TYPES, type StanzaCondition, StanzaError } from "./errors.js";
export { guardLateData } from "./guard.js";
export { bareJid } from "./jid.js";
export { default as ltx, type Element, el } from "./ltx.js";
export { type ConnectionKeeper, keepConnected, nextDelay } from "./reconnect.js";
export { RegistrationError, registerAccount } from "./register.js";
export { nativeHi, useNativeScram } from "./scram.js";
