/**
 * XEP-0009 Jabber-RPC: the XML-RPC codec, the component's RPC service and the
 * agent-side handler. docs/rpc.md describes the methods, faults and access.
 *
 * https://xmpp.org/extensions/xep-0009.html
 */
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
export { FAULTS, type FaultName, RpcFault } from "./errors.js";
