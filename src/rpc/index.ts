/**
 * XEP-0009 Jabber-RPC on the component: the XML-RPC codec, the RPC service
 * and its methods, forwarding to agents and the queue of calls waiting for an
 * offline one. The agent's handler is src/agent/rpc.ts (it imports codec.ts
 * alone, to keep the agent bundle small). docs/rpc.md describes the methods,
 * faults and access.
 *
 * https://xmpp.org/extensions/xep-0009.html
 */

export {
  type AlertCenterLike,
  alertKey,
  alertStruct,
  type MonitorAlerts,
  monitorAlertsBackend,
  parseSilencePattern,
  silenceKey,
  silenceStruct,
  sortAlerts,
} from "./alerts.js";
export {
  type AgentsBackend,
  type AlertsBackend,
  type Caller,
  type ForwardOptions,
  type HostFilter,
  type HostsBackend,
  hostMatches,
  hostsBackend,
  type RpcBackend,
} from "./backend.js";
export {
  decodeMethodCall,
  decodeMethodResponse,
  decodeValue,
  encodeValue,
  faultQuery,
  formatDateTime,
  type MethodCall,
  type MethodResponse,
  methodCallQuery,
  RpcEncodeError,
  type RpcStruct,
  type RpcValue,
  responseQuery,
  typeName,
  type XmlNode,
  xmlSafe,
} from "./codec.js";
export { type DowntimeStoreLike, registerDowntimeMethods } from "./downtime.js";
export { type RpcConfig, type RpcEndpoint, rpcEndpoint } from "./endpoint.js";
export { FAULTS, type FaultName, RpcFault } from "./errors.js";
export { AgentForwarder } from "./forward.js";
export { parseDuration, registerComponentMethods } from "./methods.js";
export {
  allPages,
  answerList,
  DEFAULT_PAGE_SIZE,
  type Listing,
  listAnswer,
  MAX_PAGE_SIZE,
  PAGE_PARAM,
  type Page,
  type PageRequest,
  pageRequest,
  readPage,
} from "./paging.js";
export { type Claim, type QueuedRequest, RedisRpcQueue, type RpcQueue } from "./queue.js";
export {
  byteSize,
  capReply,
  DEFAULT_MAX_REPLY_BYTES,
  iqEnvelopeBytes,
  valueBudget,
} from "./reply.js";
export {
  type Access,
  type CallContext,
  checkParams,
  type InvokeRequest,
  type MethodSpec,
  type ParamSpec,
  type Role,
  type RpcService,
  rpcService,
} from "./service.js";
