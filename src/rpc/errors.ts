/**
 * XML-RPC faults. Codes follow the "Specification for Fault Code
 * Interoperability" (xmlrpc-epi, used by Python, PHP and Apache XML-RPC) for
 * protocol problems, and -32000..-32099 ("implementation-defined server
 * errors") for jabmon's own. docs/rpc.md lists every code; a test checks that.
 *
 * http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php
 */

export const FAULTS = {
  /** Not well-formed XML-RPC: unknown type element, bad int text, missing methodName... */
  JABMON_RPC_MALFORMED: -32700,
  /** Well-formed, but refused as a request: too large, too deep. */
  JABMON_RPC_INVALID_REQUEST: -32600,
  JABMON_RPC_UNKNOWN_METHOD: -32601,
  /** A parameter is missing, extra, or of the wrong type; the message names it. */
  JABMON_RPC_BAD_PARAMS: -32602,
  JABMON_RPC_INTERNAL: -32603,
  /** The host, alert or silence named does not exist. */
  JABMON_RPC_NOT_FOUND: -32001,
  /** The agent is offline and the caller asked not to queue (expiry 0). */
  JABMON_RPC_AGENT_OFFLINE: -32002,
  /** A queued request for an offline agent expired before the agent came back. */
  JABMON_RPC_EXPIRED: -32003,
  /** The agent did not answer the forwarded call, or answered with an XMPP error. */
  JABMON_RPC_AGENT_FAILED: -32004,
  /** The agent has no configured check by that name. */
  JABMON_RPC_NO_SUCH_CHECK: -32005,
  /** The offline queue for this agent is full. */
  JABMON_RPC_QUEUE_FULL: -32006,
  /** The caller already has rpc.maxPendingPerCaller calls waiting for an answer. */
  JABMON_RPC_TOO_MANY_PENDING: -32007,
  /**
   * The answer would be larger than rpc.maxReplyBytes (ejabberd would close
   * the component's stream on it): ask for a page, or for less.
   */
  JABMON_RPC_REPLY_TOO_BIG: -32008,
} as const;

export type FaultName = keyof typeof FAULTS;

/** Thrown by method handlers and by the codec; becomes a `<fault/>` response. */
export class RpcFault extends Error {
  override name = "RpcFault";
  readonly code: number;

  constructor(code: number | FaultName, message: string) {
    super(message);
    this.code = typeof code === "number" ? code : FAULTS[code];
  }

  /** The XML-RPC faultString. */
  get faultString(): string {
    return this.message;
  }
}
