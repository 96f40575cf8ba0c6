/**
 * XEP-0009 Jabber-RPC: the XML-RPC codec, the component's RPC service and the
 * agent-side handler. docs/rpc.md describes the methods, faults and access.
 *
 * https://xmpp.org/extensions/xep-0009.html
 */

export {
  type AlertCenterLike,
  alertStruct,
  type MonitorAlerts,
  monitorAlertsBackend,
  parseSilencePattern,
  silenceStruct,
  sortAlerts,
} from "./alerts.js";
export {
  type AgentsBackend,
  type AlertsBackend,
  type Caller,
  type ForwardOptions,
  globToRegExp,
  type HostFilter,
  type HostsBackend,
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
export { type RpcConfig, type RpcEndpoint, rpcEndpoint } from "./endpoint.js";
export { FAULTS, type FaultName, RpcFault } from "./errors.js";
export { AgentForwarder } from "./forward.js";
export { parseDuration, registerComponentMethods } from "./methods.js";
export { type Claim, type QueuedRequest, RedisRpcQueue, type RpcQueue } from "./queue.js";
export {
  type Access,
  type CallContext,
  checkParams,
  type MethodSpec,
  type ParamSpec,
  type Role,
  type RpcService,
  rpcService,
} from "./service.js";
