/**
 * XML-RPC on ltx elements, for XEP-0009 Jabber-RPC: the `<methodCall/>` or
 * `<methodResponse/>` inside `<query xmlns="jabber:iq:rpc"/>`.
 *
 * Written by hand because no maintained serializer works on an existing XML
 * tree without HTTP (the `xmlrpc` package is unmaintained and ~6 MB; it is our
 * test oracle instead). The decoder only reads `name`, `attrs` and `children`,
 * so it works on elements from either ltx build (component or client).
 *
 * Values map to JavaScript as:
 *   int/i4 (and i8 within 2^53) → number   double → number
 *   boolean → boolean                     string, untyped <value> → string
 *   dateTime.iso8601 → Date               base64 → Uint8Array
 *   struct → plain object                 array → array        nil → null
 * and back: an integer in the int32 range is sent as <int>, any other finite
 * number as <double>. Dates are sent as XML-RPC's basic form
 * `YYYYMMDDTHH:MM:SS` in UTC: milliseconds are dropped (the format has none,
 * and slixmpp's parser accepts nothing else).
 *
 * https://xmlrpc.com/spec.md  https://xmpp.org/extensions/xep-0009.html
 */
import { NS_RPC } from "../protocol/index.js";
import { type Element, el, replaceXmlInvalid } from "../xmpp/index.js";
import { RpcFault } from "./errors.js";

export type RpcValue =
  | number
  | boolean
  | string
  | Date
  | Uint8Array
  | null
  | RpcValue[]
  | { [member: string]: RpcValue };

export type RpcStruct = { [member: string]: RpcValue };

export interface MethodCall {
  methodName: string;
  params: RpcValue[];
}

export type MethodResponse =
  | { ok: true; value: RpcValue }
  | { ok: false; code: number; message: string };

/** The minimal element shape the decoder reads (either ltx build satisfies it). */
export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: Array<XmlNode | string>;
}

export interface DecodeLimits {
  /** Deepest nesting of arrays and structs accepted. */
  maxDepth: number;
}
const DEFAULT_LIMITS: DecodeLimits = { maxDepth: 32 };

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

// ---------------------------------------------------------------- encoding

// Characters XML 1.0 cannot carry are replaced by U+FFFD rather than failing the whole reply.
export const xmlSafe = replaceXmlInvalid;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** XML-RPC's dateTime.iso8601 basic form, UTC, whole seconds. */
export function formatDateTime(date: Date): string {
  return (
    `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  );
}

/** Thrown for a JavaScript value XML-RPC cannot represent (a bug in the caller). */
export class RpcEncodeError extends TypeError {
  override name = "RpcEncodeError";
}

function typed(value: RpcValue, path: string, seen: Set<object>): Element {
  if (value === null) return el("nil");
  switch (typeof value) {
    case "string":
      return el("string", {}, xmlSafe(value));
    case "boolean":
      return el("boolean", {}, value ? "1" : "0");
    case "number":
      if (!Number.isFinite(value))
        throw new RpcEncodeError(`${path}: XML-RPC has no representation for ${value}`);
      if (
        Number.isInteger(value) &&
        value >= INT32_MIN &&
        value <= INT32_MAX &&
        !Object.is(value, -0)
      )
        return el("int", {}, String(value));
      return el("double", {}, Object.is(value, -0) ? "-0" : String(value));
    case "object":
      break;
    default:
      throw new RpcEncodeError(`${path}: cannot encode a ${typeof value}`);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new RpcEncodeError(`${path}: invalid Date`);
    const year = value.getUTCFullYear();
    if (year < 0 || year > 9999) throw new RpcEncodeError(`${path}: year ${year} out of range`);
    return el("dateTime.iso8601", {}, formatDateTime(value));
  }
  if (value instanceof Uint8Array) {
    return el(
      "base64",
      {},
      Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64"),
    );
  }
  if (seen.has(value)) throw new RpcEncodeError(`${path}: circular reference`);
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const data = el("data");
      value.forEach((item, i) => {
        data.cnode(encodeValue(item, `${path}[${i}]`, seen));
      });
      return el("array", {}, data);
    }
    const struct = el("struct");
    for (const [name, member] of Object.entries(value)) {
      if (member === undefined) continue; // optional fields left out, as JSON does
      struct.cnode(
        el(
          "member",
          {},
          el("name", {}, xmlSafe(name)),
          encodeValue(member, `${path}.${name}`, seen),
        ),
      );
    }
    return struct;
  } finally {
    seen.delete(value);
  }
}

/** `<value>…</value>` for a JavaScript value. Throws RpcEncodeError for NaN, Infinity, functions… */
export function encodeValue(value: RpcValue, path = "value", seen = new Set<object>()): Element {
  return el("value", {}, typed(value, path, seen));
}

function paramsElement(params: RpcValue[]): Element {
  const element = el("params");
  params.forEach((param, i) => {
    element.cnode(el("param", {}, encodeValue(param, `param ${i + 1}`)));
  });
  return element;
}

/** `<query xmlns="jabber:iq:rpc"><methodCall>…` ready to put in an IQ set. */
export function methodCallQuery(methodName: string, params: RpcValue[] = []): Element {
  return el(
    "query",
    { xmlns: NS_RPC },
    el("methodCall", {}, el("methodName", {}, methodName), paramsElement(params)),
  );
}

/** `<query xmlns="jabber:iq:rpc"><methodResponse><params>…` with one value. */
export function responseQuery(value: RpcValue): Element {
  return el("query", { xmlns: NS_RPC }, el("methodResponse", {}, paramsElement([value])));
}

/** `<query xmlns="jabber:iq:rpc"><methodResponse><fault>…`; XEP-0009 sends it in an IQ result. */
export function faultQuery(code: number, message: string): Element {
  return el(
    "query",
    { xmlns: NS_RPC },
    el(
      "methodResponse",
      {},
      el("fault", {}, encodeValue({ faultCode: code, faultString: message })),
    ),
  );
}

// ---------------------------------------------------------------- decoding

const malformed = (message: string) => new RpcFault("JABMON_RPC_MALFORMED", message);

function isElement(child: XmlNode | string): child is XmlNode {
  return typeof child === "object" && child !== null;
}

function elementsOf(node: XmlNode, where: string): XmlNode[] {
  const elements: XmlNode[] = [];
  for (const child of node.children) {
    if (isElement(child)) elements.push(child);
    else if (child.trim() !== "") throw malformed(`${where}: unexpected text`);
  }
  return elements;
}

function textOf(node: XmlNode): string {
  let text = "";
  for (const child of node.children) {
    if (typeof child === "string") text += child;
    else throw malformed(`<${node.name}> must contain text only`);
  }
  return text;
}

const INT_TEXT = /^[+-]?\d{1,20}$/;
const DOUBLE_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$/;
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
// Basic (19980717T14:08:55) and extended (1998-07-17T14:08:55Z) forms, optional fraction and zone.
const DATETIME_TEXT =
  /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;

function decodeInt(text: string, name: string, path: string): number {
  const trimmed = text.trim();
  if (!INT_TEXT.test(trimmed)) throw malformed(`${path}: <${name}> is not an integer`);
  const n = Number(trimmed);
  if (name === "i8") {
    if (!Number.isSafeInteger(n)) throw malformed(`${path}: <i8> beyond 2^53 is not supported`);
    return n;
  }
  if (n < INT32_MIN || n > INT32_MAX) throw malformed(`${path}: <${name}> out of the 32-bit range`);
  return n;
}

function decodeDateTime(text: string, path: string): Date {
  const match = DATETIME_TEXT.exec(text.trim());
  if (!match) throw malformed(`${path}: <dateTime.iso8601> is not an ISO 8601 date and time`);
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  const ms = fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0;
  let time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const check = new Date(time);
  if (
    Number.isNaN(time) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  )
    throw malformed(`${path}: <dateTime.iso8601> is not a valid date`);
  // Date.UTC maps years 0..99 to 1900..1999.
  if (Number(y) < 100) {
    check.setUTCFullYear(Number(y));
    time = check.getTime();
  }
  if (zone && zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    time -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return new Date(time);
}

function decodeTyped(node: XmlNode, path: string, depth: number, limits: DecodeLimits): RpcValue {
  switch (node.name) {
    case "int":
    case "i4":
    case "i8":
      return decodeInt(textOf(node), node.name, path);
    case "boolean": {
      const text = textOf(node).trim();
      if (text === "1") return true;
      if (text === "0") return false;
      throw malformed(`${path}: <boolean> must be 0 or 1`);
    }
    case "string":
      return textOf(node);
    case "double": {
      const text = textOf(node).trim();
      const n = Number(text);
      if (!DOUBLE_TEXT.test(text) || !Number.isFinite(n))
        throw malformed(`${path}: <double> is not a finite decimal number`);
      return n;
    }
    case "dateTime.iso8601":
      return decodeDateTime(textOf(node), path);
    case "base64":
    case "Base64": {
      const text = textOf(node).replace(/\s+/g, "");
      if (!BASE64_TEXT.test(text) || text.length % 4 === 1)
        throw malformed(`${path}: <base64> is not base64`);
      return new Uint8Array(Buffer.from(text, "base64"));
    }
    case "nil":
      if (elementsOf(node, path).length > 0 || textOf(node).trim() !== "")
        throw malformed(`${path}: <nil/> must be empty`);
      return null;
    case "array": {
      if (depth >= limits.maxDepth) throw tooDeep(path, limits);
      const [data, ...rest] = elementsOf(node, path);
      if (!data || data.name !== "data" || rest.length > 0)
        throw malformed(`${path}: <array> must contain exactly one <data>`);
      return elementsOf(data, path).map((value, i) => {
        if (value.name !== "value")
          throw malformed(`${path}[${i}]: expected <value>, got <${value.name}>`);
        return decodeValueAt(value, `${path}[${i}]`, depth + 1, limits);
      });
    }
    case "struct": {
      if (depth >= limits.maxDepth) throw tooDeep(path, limits);
      const struct: RpcStruct = {};
      for (const member of elementsOf(node, path)) {
        if (member.name !== "member")
          throw malformed(`${path}: expected <member>, got <${member.name}>`);
        const parts = elementsOf(member, path);
        const nameNode = parts.find((p) => p.name === "name");
        const valueNode = parts.find((p) => p.name === "value");
        if (parts.length !== 2 || !nameNode || !valueNode)
          throw malformed(`${path}: <member> must contain one <name> and one <value>`);
        const name = textOf(nameNode);
        if (Object.hasOwn(struct, name))
          throw malformed(`${path}: duplicate member "${name.slice(0, 40)}"`);
        // defineProperty: a member called "__proto__" must stay data, never become the prototype.
        Object.defineProperty(struct, name, {
          value: decodeValueAt(valueNode, `${path}.${name.slice(0, 40)}`, depth + 1, limits),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return struct;
    }
    default:
      throw malformed(`${path}: unknown XML-RPC type <${String(node.name).slice(0, 40)}>`);
  }
}

function tooDeep(path: string, limits: DecodeLimits): RpcFault {
  return new RpcFault(
    "JABMON_RPC_INVALID_REQUEST",
    `${path}: nested deeper than ${limits.maxDepth} arrays or structs`,
  );
}

function decodeValueAt(node: XmlNode, path: string, depth: number, limits: DecodeLimits): RpcValue {
  if (node.name !== "value") throw malformed(`${path}: expected <value>, got <${node.name}>`);
  const elements = node.children.filter(isElement);
  // An untyped <value>text</value> is a string (XML-RPC spec), whitespace kept.
  if (elements.length === 0) return textOf(node);
  const [typedNode] = elementsOf(node, path);
  if (elements.length > 1 || !typedNode)
    throw malformed(`${path}: <value> must hold one typed element`);
  return decodeTyped(typedNode, path, depth, limits);
}

/** Decode one `<value/>`. Throws RpcFault (and nothing else) for any bad input. */
export function decodeValue(node: XmlNode, limits: DecodeLimits = DEFAULT_LIMITS): RpcValue {
  return guard(() => decodeValueAt(node, "value", 0, limits));
}

function decodeParams(node: XmlNode | undefined, limits: DecodeLimits): RpcValue[] {
  if (!node) return [];
  return elementsOf(node, "params").map((param, i) => {
    const where = `param ${i + 1}`;
    if (param.name !== "param") throw malformed(`${where}: expected <param>, got <${param.name}>`);
    const [value, ...rest] = elementsOf(param, where);
    if (!value || rest.length > 0) throw malformed(`${where}: <param> must hold one <value>`);
    return decodeValueAt(value, where, 0, limits);
  });
}

/** Any exception that is not already a fault (a bug, or a hostile tree) becomes "malformed". */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RpcFault) throw err;
    if (err instanceof RangeError)
      throw new RpcFault("JABMON_RPC_INVALID_REQUEST", "call nested too deeply");
    throw malformed(`not valid XML-RPC (${(err as Error)?.message ?? String(err)})`);
  }
}

/** `<query xmlns="jabber:iq:rpc"><methodCall>` → name and params. */
export function decodeMethodCall(
  query: XmlNode,
  limits: DecodeLimits = DEFAULT_LIMITS,
): MethodCall {
  return guard(() => {
    const [call, ...rest] = elementsOf(query, "query");
    if (!call || rest.length > 0 || call.name !== "methodCall")
      throw malformed("the query must contain exactly one <methodCall>");
    const parts = elementsOf(call, "methodCall");
    const nameNodes = parts.filter((p) => p.name === "methodName");
    const paramsNodes = parts.filter((p) => p.name === "params");
    if (nameNodes.length !== 1) throw malformed("<methodCall> must contain one <methodName>");
    if (paramsNodes.length > 1 || parts.length !== nameNodes.length + paramsNodes.length)
      throw malformed("<methodCall> may contain only <methodName> and one <params>");
    const methodName = textOf(nameNodes[0] as XmlNode).trim();
    if (!/^[A-Za-z0-9_.:/]{1,128}$/.test(methodName))
      throw malformed("<methodName> must be 1-128 characters of A-Z a-z 0-9 _ . : /");
    return { methodName, params: decodeParams(paramsNodes[0], limits) };
  });
}

/** `<query xmlns="jabber:iq:rpc"><methodResponse>` → the value, or the fault. */
export function decodeMethodResponse(
  query: XmlNode,
  limits: DecodeLimits = DEFAULT_LIMITS,
): MethodResponse {
  return guard(() => {
    const [response, ...rest] = elementsOf(query, "query");
    if (!response || rest.length > 0 || response.name !== "methodResponse")
      throw malformed("the query must contain exactly one <methodResponse>");
    const [body, ...more] = elementsOf(response, "methodResponse");
    if (!body || more.length > 0) throw malformed("<methodResponse> must hold <params> or <fault>");
    if (body.name === "fault") {
      const [value, ...extra] = elementsOf(body, "fault");
      if (!value || extra.length > 0) throw malformed("<fault> must hold one <value>");
      const fault = decodeValueAt(value, "fault", 0, limits);
      if (
        fault === null ||
        typeof fault !== "object" ||
        Array.isArray(fault) ||
        typeof (fault as RpcStruct).faultCode !== "number" ||
        typeof (fault as RpcStruct).faultString !== "string"
      )
        throw malformed("<fault> must be a struct with faultCode (int) and faultString (string)");
      const struct = fault as RpcStruct;
      return { ok: false, code: struct.faultCode as number, message: struct.faultString as string };
    }
    if (body.name !== "params") throw malformed("<methodResponse> must hold <params> or <fault>");
    const params = decodeParams(body, limits);
    if (params.length !== 1) throw malformed("<methodResponse> must return exactly one value");
    return { ok: true, value: params[0] as RpcValue };
  });
}

/** A human-readable XML-RPC type name for a decoded value, for "wrong type" faults. */
export function typeName(value: RpcValue): string {
  if (value === null) return "nil";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "double";
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "boolean";
  if (value instanceof Date) return "dateTime.iso8601";
  if (value instanceof Uint8Array) return "base64";
  if (Array.isArray(value)) return "array";
  return "struct";
}
