/**
 * XEP-0004 data forms, as far as pubsub needs them: read a submitted form
 * into a map of var → values, and build a form from fields.
 *
 * https://xmpp.org/extensions/xep-0004.html
 */
import { type Element, el } from "../xmpp/index.js";

export const NS_DATA = "jabber:x:data";

export interface FormField {
  var: string;
  type?: string;
  label?: string;
  values: string[];
  options?: string[];
}

/** var → values of a submitted form (FORM_TYPE included). */
export function readForm(x: Element): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const field of x.getChildren("field")) {
    const name = field.attrs.var as string | undefined;
    if (!name) continue;
    fields.set(
      name,
      field.getChildren("value").map((v) => v.getText()),
    );
  }
  return fields;
}

export function buildForm(
  type: "form" | "result" | "submit",
  formType: string,
  fields: FormField[],
  text: { title?: string; instructions?: string } = {},
): Element {
  const x = el("x", { xmlns: NS_DATA, type });
  if (text.title) x.cnode(el("title", {}, text.title));
  if (text.instructions) x.cnode(el("instructions", {}, text.instructions));
  x.cnode(el("field", { var: "FORM_TYPE", type: "hidden" }, el("value", {}, formType)));
  for (const f of fields) {
    const field = el("field", { var: f.var, type: f.type, label: f.label });
    for (const v of f.values) field.cnode(el("value", {}, v));
    for (const o of f.options ?? []) field.cnode(el("option", {}, el("value", {}, o)));
    x.cnode(field);
  }
  return x;
}

/** XEP-0004 booleans: "1"/"true" and "0"/"false". */
export function parseBoolean(value: string | undefined): boolean | undefined {
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  return undefined;
}
