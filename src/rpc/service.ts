/**
 * The component's Jabber-RPC endpoint: `jabber:iq:rpc` IQ sets carrying an
 * XML-RPC methodCall, dispatched to a registry of methods.
 *
 * Access is per bare JID: `rpc.admins` may call every method, `rpc.viewers`
 * the read methods only. A JID in neither list, or a viewer calling a write
 * method, gets a `<forbidden/>` stanza error, as XEP-0009 §4 asks ("If the
 * requesting entity does not have sufficient permissions to perform the
 * remote procedure call, the responding entity MUST return a <forbidden/>
 * error"). Everything else that goes wrong is an XML-RPC fault in an IQ
 * result (see errors.ts and docs/rpc.md).
 *
 * https://xmpp.org/extensions/xep-0009.html
 */
import type { IqRequest, Router } from "../component/index.js";
import type { Logger } from "../log/index.js";
import { NS_RPC } from "../protocol/index.js";
import { bareJid, type Element, StanzaError } from "../xmpp/index.js";
import {
  decodeMethodCall,
  faultQuery,
  RpcEncodeError,
  type RpcValue,
  responseQuery,
  typeName,
} from "./codec.js";
import { FAULTS, RpcFault } from "./errors.js";
import { capReply, DEFAULT_MAX_REPLY_BYTES, iqEnvelopeBytes, valueBudget } from "./reply.js";

export type Access = "read" | "admin";
export type Role = "admin" | "viewer";
export type ParamType =
  | "string"
  | "int"
  | "boolean"
  | "double"
  | "struct"
  | "array"
  | "dateTime.iso8601"
  | "base64";

export interface ParamSpec {
  name: string;
  /** One type, or several accepted alternatives. */
  type: ParamType | ParamType[];
  optional?: boolean;
}

export interface CallContext {
  /** The caller's full JID. */
  from: string;
  /** The caller's bare JID, lower case. */
  caller: string;
  role: Role;
  /** The id of the caller's IQ (a deferred reply may be sent with it later). */
  iqId: string;
  /**
   * Bytes the method's encoded value may take (`<value>…</value>`): what is
   * left of rpc.maxReplyBytes after the IQ and the response around it. List
   * methods cut their pages to it; a larger value becomes fault -32008.
   */
  replyBytes: number;
}

export interface MethodSpec {
  name: string;
  access: Access;
  params: ParamSpec[];
  /** One line for system.methodHelp and docs/rpc.md. */
  help: string;
  handler(params: RpcValue[], context: CallContext): RpcValue | Promise<RpcValue>;
}

export interface RpcAccessConfig {
  admins: string[];
  viewers: string[];
}

export interface RpcServiceOptions {
  router: Router;
  log: Logger;
  access: RpcAccessConfig;
  /** A call larger than this (serialised query, in bytes) is refused with a fault. */
  maxCallBytes: number;
  /**
   * The largest answer, in bytes of the whole IQ (the envelope an XMPP caller
   * gets included): a larger one is replaced by fault -32008. Default 262,144.
   */
  maxReplyBytes?: number;
  /**
   * Calls one bare JID may have waiting for their answer at once (a call to
   * an offline agent waits up to its expiry); more get fault -32007.
   * Default: unlimited.
   */
  maxPendingPerCaller?: number;
}

export interface RpcService {
  method(spec: MethodSpec): void;
  /** Method names, sorted; only those the role may call when a role is given. */
  methods(role?: Role): string[];
  describe(name: string): MethodSpec | undefined;
  /**
   * One call in-process, judged exactly as an XMPP caller's IQ from `from`
   * (same access lists, size limit, codec and faults): resolves to the
   * response query (a value or a fault); rejects with the StanzaError the IQ
   * would have got (`forbidden`). The HTTP gateway calls this with the
   * token's mapped JID.
   */
  invoke(call: InvokeRequest): Promise<Element>;
}

export interface InvokeRequest {
  /** The caller's full JID (a bare JID works: it is the identity checked). */
  from: string;
  /** The `<query xmlns="jabber:iq:rpc"><methodCall>…` element. */
  query: Element;
  /** Id under which a deferred reply would be sent (queued agent calls). */
  iqId: string;
  /** Bytes of the IQ the answer goes out in, around the query (`iqEnvelopeBytes`); 0 in-process. */
  envelopeBytes?: number;
}

function typeMatches(value: RpcValue, type: ParamType): boolean {
  const actual = typeName(value);
  if (type === "double") return actual === "double" || actual === "int";
  return actual === type;
}

/** Checks count and types; the fault names the parameter (by name and 1-based position). */
export function checkParams(method: MethodSpec, params: RpcValue[]): void {
  const specs = method.params;
  if (params.length > specs.length) {
    throw new RpcFault(
      "JABMON_RPC_BAD_PARAMS",
      `${method.name} takes at most ${specs.length} parameter${specs.length === 1 ? "" : "s"} (${
        specs.map((s) => s.name).join(", ") || "none"
      }), got ${params.length}`,
    );
  }
  specs.forEach((spec, i) => {
    const types = Array.isArray(spec.type) ? spec.type : [spec.type];
    const value = params[i];
    if (value === undefined || value === null) {
      if (spec.optional) return;
      throw new RpcFault(
        "JABMON_RPC_BAD_PARAMS",
        `${method.name}: missing parameter '${spec.name}' (${i + 1}, ${types.join(" or ")})`,
      );
    }
    if (!types.some((type) => typeMatches(value, type))) {
      throw new RpcFault(
        "JABMON_RPC_BAD_PARAMS",
        `${method.name}: parameter '${spec.name}' (${i + 1}) must be ${types.join(" or ")}, got ${typeName(value)}`,
      );
    }
  });
}

export function rpcService(options: RpcServiceOptions): RpcService {
  const { router, log, maxCallBytes } = options;
  const maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  const methods = new Map<string, MethodSpec>();
  const admins = new Set(options.access.admins.map((j) => j.toLowerCase()));
  const viewers = new Set(options.access.viewers.map((j) => j.toLowerCase()));
  const roleOf = (jid: string): Role | undefined =>
    admins.has(jid) ? "admin" : viewers.has(jid) ? "viewer" : undefined;
  const mayCall = (role: Role, spec: MethodSpec) => role === "admin" || spec.access === "read";

  const call = async (request: InvokeRequest, role: Role): Promise<RpcValue> => {
    const size = Buffer.byteLength(request.query.toString());
    if (size > maxCallBytes) {
      throw new RpcFault(
        "JABMON_RPC_INVALID_REQUEST",
        `call of ${size} bytes refused: the limit is ${maxCallBytes} bytes`,
      );
    }
    const { methodName, params } = decodeMethodCall(request.query);
    const spec = methods.get(methodName);
    if (!spec) {
      throw new RpcFault(
        "JABMON_RPC_UNKNOWN_METHOD",
        `unknown method '${methodName}'; system.listMethods lists the methods`,
      );
    }
    if (!mayCall(role, spec)) {
      throw new StanzaError("forbidden", {
        text: `${methodName} needs admin rights; ${bareJid(request.from)} is a viewer`,
      });
    }
    checkParams(spec, params);
    return spec.handler(params, {
      from: request.from,
      caller: bareJid(request.from),
      role,
      iqId: request.iqId,
      replyBytes: valueBudget(maxReplyBytes, request.envelopeBytes ?? 0),
    });
  };

  /** The answer as it may be sent: within maxReplyBytes, or fault -32008 in its place. */
  const capped = (request: InvokeRequest, answer: Element): Element => {
    const method = request.query.getChild("methodCall")?.getChildText("methodName") ?? "";
    const { query, refusedBytes } = capReply(answer, {
      maxReplyBytes,
      envelopeBytes: request.envelopeBytes ?? 0,
      method,
    });
    if (refusedBytes !== undefined)
      log.warn(
        { from: request.from, method: method.slice(0, 100), bytes: refusedBytes, maxReplyBytes },
        "RPC answer over rpc.maxReplyBytes replaced by a fault",
      );
    return query;
  };

  // Calls in progress per bare JID: without a bound, a caller queueing calls
  // for offline agents (each waits up to its expiry) holds memory without end.
  const pending = new Map<string, number>();
  const maxPending = options.maxPendingPerCaller ?? Number.POSITIVE_INFINITY;

  const invoke = async (request: InvokeRequest): Promise<Element> => {
    const caller = bareJid(request.from);
    const role = roleOf(caller);
    if (!role) {
      log.info({ from: request.from }, "RPC call from an unauthorised JID refused");
      throw new StanzaError("forbidden", { text: `${caller} may not make Jabber-RPC calls here` });
    }
    const inProgress = pending.get(caller) ?? 0;
    if (inProgress >= maxPending) {
      log.warn({ from: request.from, pending: inProgress }, "RPC call refused: too many pending");
      return faultQuery(
        FAULTS.JABMON_RPC_TOO_MANY_PENDING,
        `${caller} already has ${inProgress} calls waiting for an answer (rpc.maxPendingPerCaller)`,
      );
    }
    pending.set(caller, inProgress + 1);
    try {
      return capped(request, responseQuery(await call(request, role)));
    } catch (err) {
      if (err instanceof StanzaError) throw err;
      // A fault's text can be long too (an agent's message passed on).
      if (err instanceof RpcFault) return capped(request, faultQuery(err.code, err.faultString));
      const message =
        err instanceof RpcEncodeError ? "result could not be encoded" : "internal error";
      log.error({ err, from: request.from }, "RPC method failed");
      return faultQuery(-32603, message);
    } finally {
      const left = (pending.get(caller) ?? 1) - 1;
      if (left > 0) pending.set(caller, left);
      else pending.delete(caller);
    }
  };

  const service: RpcService = {
    method(spec) {
      if (methods.has(spec.name)) throw new Error(`RPC method ${spec.name} is already registered`);
      methods.set(spec.name, spec);
    },
    methods(role) {
      return [...methods.values()]
        .filter((spec) => !role || mayCall(role, spec))
        .map((spec) => spec.name)
        .sort();
    },
    describe: (name) => methods.get(name),
    invoke,
  };

  service.method({
    name: "system.listMethods",
    access: "read",
    params: [],
    help: "The methods you may call.",
    handler: (_params, context) => service.methods(context.role),
  });
  service.method({
    name: "system.methodHelp",
    access: "read",
    params: [{ name: "method", type: "string" }],
    help: "One line about a method and its parameters.",
    handler: ([name]) => {
      const spec = methods.get(name as string);
      if (!spec) throw new RpcFault("JABMON_RPC_UNKNOWN_METHOD", `unknown method '${name}'`);
      const params = spec.params
        .map((p) => `${p.name}: ${[p.type].flat().join("|")}${p.optional ? "?" : ""}`)
        .join(", ");
      return `${spec.name}(${params}) [${spec.access}] ${spec.help}`;
    },
  });

  router.set(NS_RPC, "query", (request: IqRequest) =>
    service.invoke({
      from: request.from ?? "",
      query: request.element,
      iqId: request.stanza.attrs.id ?? "",
      envelopeBytes: iqEnvelopeBytes(request.stanza.attrs),
    }),
  );

  return service;
}
