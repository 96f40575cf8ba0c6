/** XML namespaces jabmon speaks. docs/protocol.md is the normative description. */
export const NS_JABMON = "urn:jabmon:0";
/** The disco#info feature of a service that takes `<results/>` requests (docs/protocol.md, "Replaying a backlog"). */
export const FEATURE_RESULTS = `${NS_JABMON}#results`;
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
export const NS_PING = "urn:xmpp:ping";
export const NS_VERSION = "jabber:iq:version";
export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors";
export const NS_RPC = "jabber:iq:rpc";
export const NS_RSM = "http://jabber.org/protocol/rsm";
export const NS_DELAY = "urn:xmpp:delay";
