/**
 * The agent's side of Jabber-RPC (XEP-0009): the component forwards
 * `check.run`, `agent.status` and `agent.reload` here. Only the component's
 * JID may call; anyone else gets `<forbidden/>`. `check.run` runs only a
 * check defined in the agent's configuration, never a command from the wire.
 *
 * Kept apart from the rest of the agent so it only needs the xmpp client and
 * three callbacks.
 *
 * https://xmpp.org/extensions/xep-0009.html
 */
import { xml } from "@xmpp/client-core";
import type { Logger } from "../log/index.js";
import type { AgentStatus } from "../protocol/index.js";
import { NS_RPC } from "../protocol/index.js";
// The codec files only, not src/rpc/index.ts: that pulls in the component's
// RPC service, Redis and more, which the agent's single-file bundle must not carry.
import {
  decodeMethodCall,
  faultQuery,
  type RpcStruct,
  type RpcValue,
  responseQuery,
  typeName,
} from "../rpc/codec.js";
import { RpcFault } from "../rpc/errors.js";
import { bareJid, type Element, NS_STANZAS } from "../xmpp/index.js";

export interface CheckResult {
  state: string;
  output: string;
  durationMs?: number;
}

/** The part of an xmpp.js 0.14 client the RPC needs: its IQ callee. */
export interface RpcCapableClient {
  iqCallee: { set(ns: string, name: string, handler: (ctx: never) => unknown): void };
}

export interface AgentRpcOptions {
  xmpp: RpcCapableClient;
  /** The component's JID: the only caller allowed. */
  component: string;
  log: Logger;
  /** Names of the configured checks. */
  checks(): string[];
  runCheck(name: string): Promise<CheckResult>;
  status(): Promise<AgentStatus>;
  /** Reload configuration; returns a line saying what happened. */
  reload(): Promise<string>;
  /** Largest call accepted, in bytes. */
  maxCallBytes?: number;
}

/** Our codec builds elements with the component's ltx; xmpp.js 0.14 needs its own class. */
function toClientXml(node: Element): ReturnType<typeof xml> {
  const children = node.children.map((child) =>
    typeof child === "string" ? child : toClientXml(child as Element),
  );
  return xml(node.name, { ...node.attrs }, ...children);
}

/** `name` exactly, else the one configured check whose name contains it ("disk" → "disk_root"). */
export function resolveCheck(name: string, configured: string[]): string {
  if (configured.includes(name)) return name;
  const lower = name.toLowerCase();
  const candidates = configured.filter((c) => c.toLowerCase().includes(lower));
  if (candidates.length === 1) return candidates[0] as string;
  const list = configured.join(", ") || "none";
  throw new RpcFault(
    "JABMON_RPC_NO_SUCH_CHECK",
    candidates.length > 1
      ? `'${name}' matches several checks (${candidates.join(", ")}); name one`
      : `no check named '${name}'; configured: ${list}`,
  );
}

export function registerAgentRpc(options: AgentRpcOptions): void {
  const { xmpp, component, log, maxCallBytes = 65_536 } = options;
  const started = Date.now();

  const methods: Record<string, (params: RpcValue[]) => Promise<RpcValue>> = {
    "system.listMethods": async () => Object.keys(methods).sort(),
    "agent.status": async () => {
      const status = await options.status();
      const struct: RpcStruct = {
        host: status.host,
        version: status.version,
        state: status.state,
        summary: status.summary,
        checks: options.checks(),
        uptimeS: Math.round((Date.now() - started) / 1000),
      };
      return struct;
    },
    "check.run": async (params) => {
      const [name] = params;
      if (params.length !== 1 || typeof name !== "string")
        throw new RpcFault(
          "JABMON_RPC_BAD_PARAMS",
          `check.run: parameter 'check' (1) must be a string, got ${params.length === 0 ? "nothing" : typeName(name as RpcValue)}`,
        );
      const check = resolveCheck(name, options.checks());
      const startedAt = Date.now();
      log.info({ check }, "rpc check.run");
      const result = await options.runCheck(check);
      return {
        name: check,
        state: result.state,
        output: result.output,
        durationMs: result.durationMs ?? Date.now() - startedAt,
      };
    },
    "agent.reload": async () => {
      log.info("rpc agent.reload");
      return { message: await options.reload() };
    },
  };

  type Context = { stanza: { attrs: Record<string, string> }; element: ReturnType<typeof xml> };
  const handler = async (ctx: Context) => {
    const from = String(ctx.stanza.attrs.from ?? "");
    if (bareJid(from) !== component.toLowerCase()) {
      log.warn({ from }, "RPC call from a JID other than the component refused");
      return xml(
        "error",
        { type: "auth" },
        xml("forbidden", { xmlns: NS_STANZAS }),
        xml("text", { xmlns: NS_STANZAS }, "only the jabmon component may call this agent"),
      );
    }
    let reply: Element;
    try {
      if (Buffer.byteLength(ctx.element.toString()) > maxCallBytes)
        throw new RpcFault("JABMON_RPC_INVALID_REQUEST", `call larger than ${maxCallBytes} bytes`);
      const call = decodeMethodCall(ctx.element as unknown as Element);
      const method = methods[call.methodName];
      if (!method)
        throw new RpcFault(
          "JABMON_RPC_UNKNOWN_METHOD",
          `unknown agent method '${call.methodName}'`,
        );
      reply = responseQuery(await method(call.params));
    } catch (err) {
      if (err instanceof RpcFault) reply = faultQuery(err.code, err.faultString);
      else {
        log.error({ err }, "agent RPC method failed");
        reply = faultQuery(-32603, `agent error: ${(err as Error).message}`);
      }
    }
    return toClientXml(reply);
  };
  // The bundled typings give the handler koa-compose's context type, which is not installed.
  xmpp.iqCallee.set(NS_RPC, "query", handler as never);
}
