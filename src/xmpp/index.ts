export {
  assembleClient,
  type ClientOptions,
  observeEarlyReplies,
  type TlsClientOptions,
  TlsRequiredError,
  tlsConnectOptions,
  type XmppClient,
} from "./client.js";
export { CONDITION_TYPES, NS_STANZAS, type StanzaCondition, StanzaError } from "./errors.js";
export { guardLateData } from "./guard.js";
export { bareJid } from "./jid.js";
export { default as ltx, type Element, el } from "./ltx.js";
export {
  keepRoomSeat,
  mucJoin,
  mucStatusCodes,
  mucUnlock,
  NS_MUC_USER,
  type RoomSeat,
} from "./muc.js";
export { StreamParser } from "./parser.js";
export {
  admissionGate,
  type ConnectionKeeper,
  keepConnected,
  nextDelay,
  RECONNECT_FLOOR_MS,
} from "./reconnect.js";
export { RegistrationError, registerAccount } from "./register.js";
export {
  channelBindingFor,
  chooseMechanism,
  SaltedPasswordCache,
  SaslError,
  ScramClient,
} from "./sasl.js";
export { replaceXmlInvalid, stripXmlInvalid } from "./text.js";
