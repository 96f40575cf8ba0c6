/**
 * Jabber over HTTP: the HTTP gateway to Jabber-RPC (`POST /RPC2`,
 * `POST /api/rpc/<method>`) and the `hosts` pubsub node that live XMPP
 * viewers (public/live.html over WebSocket) subscribe to. docs/gateway.md.
 */

export { jsonParams, jsonToRpc, rpcToJson } from "./json.js";
export { InFlight, RateLimiter } from "./limits.js";
export {
  HOSTS_NODE,
  type HostsPublisher,
  hostElement,
  type LiveNode,
  startLiveNode,
} from "./live.js";
export {
  buildGateway,
  GATEWAY_RESOURCE,
  type GatewayConfig,
  type GatewayOptions,
  type RunningGateway,
  startGateway,
} from "./server.js";
export { hashToken, newToken, presentedToken, type TokenEntry, TokenTable } from "./tokens.js";
