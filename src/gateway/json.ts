/**
 * JSON ↔ XML-RPC values for `POST /api/rpc/<method>`. JSON has no dateTime or
 * base64: results carry them as an ISO 8601 string and a base64 string.
 * Integers within 32 bits become `<int>`, other numbers `<double>`.
 */
import { RpcFault, type RpcStruct, type RpcValue } from "../rpc/index.js";

export function jsonToRpc(value: unknown, path = "params"): RpcValue {
  if (value === null) return null;
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new RpcFault("JABMON_RPC_BAD_PARAMS", `${path}: not a finite number`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => jsonToRpc(v, `${path}[${i}]`));
  if (typeof value === "object") {
    const struct: RpcStruct = {};
    for (const [k, v] of Object.entries(value)) struct[k] = jsonToRpc(v, `${path}.${k}`);
    return struct;
  }
  throw new RpcFault("JABMON_RPC_BAD_PARAMS", `${path}: unsupported JSON value`);
}

export function rpcToJson(value: RpcValue): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(rpcToJson);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = rpcToJson(v);
    return out;
  }
  return value;
}

/** The params of a JSON call body: `{"params": [...]}`, a bare array, or nothing. */
export function jsonParams(body: unknown): RpcValue[] {
  if (body === undefined || body === null || body === "") return [];
  const list = Array.isArray(body)
    ? body
    : typeof body === "object" && "params" in body
      ? (body as { params: unknown }).params
      : typeof body === "object" && Object.keys(body).length === 0
        ? []
        : undefined;
  if (!Array.isArray(list))
    throw new RpcFault(
      "JABMON_RPC_INVALID_REQUEST",
      'the body must be {"params": [...]} or a JSON array of the params',
    );
  return list.map((v, i) => jsonToRpc(v, `params[${i}]`));
}
