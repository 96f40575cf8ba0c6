/**
 * The one ltx instance jabmon builds elements with.
 *
 * ltx ships both an ESM and a CommonJS build, each with its own Element class.
 * @xmpp/component 0.13 is CommonJS and checks `reply instanceof Element`
 * before sending an IQ reply, so an element built with the ESM class would go
 * out as an empty result. Loading ltx through `require` gives us the same
 * class the component uses.
 */
import { createRequire } from "node:module";

type Ltx = typeof import("ltx");
export type Element = import("ltx").Element;

const ltx: Ltx = createRequire(import.meta.url)("ltx");
export default ltx;

/** Shorthand for `new Element(name, attrs)` with the text or child elements given. */
export function el(
  name: string,
  attrs: Record<string, string | number | undefined> = {},
  ...children: Array<Element | string | undefined>
): Element {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) clean[k] = String(v);
  const element = new ltx.Element(name, clean);
  for (const child of children) {
    if (child === undefined) continue;
    if (typeof child === "string") element.t(child);
    else element.cnode(child);
  }
  return element;
}
