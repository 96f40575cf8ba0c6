/**
 * XEP-0009 Jabber-RPC from a plain xmpp.js client: a methodCall built and a
 * methodResponse decoded by the component's own codec (src/rpc/codec.ts),
 * carried by one IQ round trip (./iq.ts).
 *
 * https://xmpp.org/extensions/xep-0009.html
 */
import { type Client, xml } from "@xmpp/client";
import {
  decodeMethodResponse,
  type MethodResponse,
  methodCallQuery,
  type RpcValue,
  type XmlNode,
} from "../../src/rpc/index.js";
import { type IqOptions, iq, type Xml } from "./iq.js";

export const NS_RPC = "jabber:iq:rpc";

/** An element of the component's ltx build as an @xmpp/client element, to send from a client. */
export function clientXml(node: XmlNode): Xml {
  const children = node.children.map((c) => (typeof c === "string" ? c : clientXml(c)));
  return xml(node.name, { ...node.attrs }, ...children);
}

export interface RpcReply {
  /** The IQ reply: a result, or an error (refused before any method ran). */
  reply: Xml;
  /** The decoded methodResponse (value or fault) of a result; undefined for an IQ error. */
  response?: MethodResponse;
}

/**
 * Call `method` at `to` and return the IQ reply and its decoded response. The
 * default timeout is long: a call can wait for an agent (queued while it is
 * offline, or answered by a slow check).
 */
export async function rpcCall(
  client: Client,
  to: string,
  method: string,
  params: RpcValue[] = [],
  { timeoutMs = 60_000, id }: Pick<IqOptions, "timeoutMs" | "id"> = {},
): Promise<RpcReply> {
  const call = clientXml(methodCallQuery(method, params));
  const reply = await iq(client, to, "set", call, { timeoutMs, id });
  // An error reply echoes the call's query: only a result carries a methodResponse.
  const answer = reply.attrs.type === "result" ? reply.getChild("query", NS_RPC) : undefined;
  return { reply, response: answer ? decodeMethodResponse(answer as never) : undefined };
}

/** The decoded response (value or fault) of a call; throws when the IQ itself is refused. */
export async function rpcResponse(...call: Parameters<typeof rpcCall>): Promise<MethodResponse> {
  const { reply, response } = await rpcCall(...call);
  if (!response) throw new Error(`${call[2]}: IQ error ${reply.getChild("error")?.toString()}`);
  return response;
}

/** The value a call returns; throws on a fault or an IQ error. */
export async function rpcValue<T = RpcValue>(...call: Parameters<typeof rpcCall>): Promise<T> {
  const response = await rpcResponse(...call);
  if (!response.ok) throw new Error(`${call[2]} failed: ${JSON.stringify(response)}`);
  return response.value as T;
}
