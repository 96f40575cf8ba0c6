/**
 * Node configuration: the options jabmon supports, their defaults, and the
 * XEP-0004 forms that carry them (pubsub#node_config, pubsub#meta-data,
 * pubsub#publish-options). Stored as flat fields of the node's Redis hash.
 *
 * https://xmpp.org/extensions/xep-0060.html#registrar-formtypes-config
 */
import type { Element } from "../xmpp/index.js";
import { PubsubError, pubsubError } from "./errors.js";
import { buildForm, type FormField, parseBoolean, readForm } from "./forms.js";

export const FORM_NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config";
export const FORM_META_DATA = "http://jabber.org/protocol/pubsub#meta-data";
export const FORM_PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";
export const FORM_SUBSCRIBE_OPTIONS = "http://jabber.org/protocol/pubsub#subscribe_options";
export const FORM_SUBSCRIBE_AUTHORIZATION =
  "http://jabber.org/protocol/pubsub#subscribe_authorization";

export const ACCESS_MODELS = ["open", "whitelist", "authorize"] as const;
export const PUBLISH_MODELS = ["publishers", "subscribers", "open"] as const;
/** `on_sub_and_presence` is accepted and acts as `on_sub`: jabmon does no presence-based delivery. */
export const SEND_LAST_PUBLISHED = ["never", "on_sub", "on_sub_and_presence"] as const;
export type AccessModel = (typeof ACCESS_MODELS)[number];
export type PublishModel = (typeof PUBLISH_MODELS)[number];
export type SendLastPublished = (typeof SEND_LAST_PUBLISHED)[number];

export interface NodeConfig {
  title: string;
  maxItems: number;
  persistItems: boolean;
  accessModel: AccessModel;
  publishModel: PublishModel;
  notifyRetract: boolean;
  notifyDelete: boolean;
  /** Seconds after which an item ages out; 0 = never. */
  itemExpire: number;
  /** Whether a new subscriber gets the node's last item at once. */
  sendLastPublishedItem: SendLastPublished;
}

export interface NodeRecord extends NodeConfig {
  node: string;
  owner: string;
  created: number;
  seq: number;
  agentSeq: number;
}

export interface ConfigLimits {
  maxItemsLimit: number;
  defaultMaxItems: number;
}

export function defaultConfig(limits: ConfigLimits, agentNode: boolean): NodeConfig {
  return {
    title: "",
    maxItems: limits.defaultMaxItems,
    persistItems: true,
    // An agent's results are private to its owner, the component and whoever
    // the owner (or an admin) affiliates; other nodes default to open like XEP-0060's default.
    accessModel: agentNode ? "whitelist" : "open",
    publishModel: "publishers",
    notifyRetract: true,
    notifyDelete: true,
    itemExpire: 0,
    // A node carries a state (an agent's latest result): a new subscriber (a
    // dashboard, an alertbot) sees it at once, and the item's jabmon:seq is the
    // baseline from which it detects missed items. Event nodes (the component's
    // `alerts`) are created with `never` by ensureNode.
    sendLastPublishedItem: "on_sub",
  };
}

/** Field name in the node hash ↔ form var, with the stored (string) value. */
const FIELDS: Array<{ key: keyof NodeConfig; hash: string; var: string }> = [
  { key: "title", hash: "title", var: "pubsub#title" },
  { key: "maxItems", hash: "max_items", var: "pubsub#max_items" },
  { key: "persistItems", hash: "persist_items", var: "pubsub#persist_items" },
  { key: "accessModel", hash: "access_model", var: "pubsub#access_model" },
  { key: "publishModel", hash: "publish_model", var: "pubsub#publish_model" },
  { key: "notifyRetract", hash: "notify_retract", var: "pubsub#notify_retract" },
  { key: "notifyDelete", hash: "notify_delete", var: "pubsub#notify_delete" },
  { key: "itemExpire", hash: "item_expire", var: "pubsub#item_expire" },
  {
    key: "sendLastPublishedItem",
    hash: "send_last_published_item",
    var: "pubsub#send_last_published_item",
  },
];
const BY_VAR = new Map(FIELDS.map((f) => [f.var, f]));

const stored = (value: NodeConfig[keyof NodeConfig]): string =>
  typeof value === "boolean" ? (value ? "1" : "0") : String(value);

/** Hash field/value pairs of a configuration, for the Lua scripts. */
export function configToHash(config: Partial<NodeConfig>): string[] {
  const out: string[] = [];
  for (const f of FIELDS) {
    const value = config[f.key];
    if (value !== undefined) out.push(f.hash, stored(value));
  }
  return out;
}

export function recordFromHash(node: string, hash: Record<string, string>): NodeRecord | undefined {
  if (!hash.owner) return undefined;
  return {
    node,
    owner: hash.owner,
    created: Number(hash.created ?? 0),
    seq: Number(hash.seq ?? 0),
    agentSeq: Number(hash.agentSeq ?? 0),
    title: hash.title ?? "",
    maxItems: Number(hash.max_items ?? 0),
    persistItems: hash.persist_items !== "0",
    accessModel: (hash.access_model as AccessModel) ?? "open",
    publishModel: (hash.publish_model as PublishModel) ?? "publishers",
    notifyRetract: hash.notify_retract !== "0",
    notifyDelete: hash.notify_delete !== "0",
    itemExpire: Number(hash.item_expire ?? 0),
    // Nodes created before the option existed keep their behaviour: nothing on subscribe.
    sendLastPublishedItem: (hash.send_last_published_item as SendLastPublished) ?? "never",
  };
}

const invalid = (
  field: string,
  value: string | undefined,
  code:
    | "JABMON_ERR_INVALID_CONFIG"
    | "JABMON_ERR_PRECONDITION_NOT_MET" = "JABMON_ERR_INVALID_CONFIG",
) => pubsubError(code, `invalid value ${JSON.stringify(value ?? "")} for ${field}`);

/**
 * Parse a submitted config (or publish-options) form into a partial config.
 * Unknown fields and bad values throw: nothing is applied from a bad form.
 */
export function parseConfigForm(
  x: Element,
  limits: ConfigLimits,
  formType: string,
  onBad:
    | "JABMON_ERR_INVALID_CONFIG"
    | "JABMON_ERR_PRECONDITION_NOT_MET" = "JABMON_ERR_INVALID_CONFIG",
): Partial<NodeConfig> {
  if (x.attrs.xmlns !== "jabber:x:data")
    throw pubsubError("JABMON_ERR_BAD_REQUEST", "expected a data form");
  if (x.attrs.type === "cancel") return {};
  const fields = readForm(x);
  const type = fields.get("FORM_TYPE")?.[0];
  if (type !== undefined && type !== formType) throw invalid("FORM_TYPE", type, onBad);
  const config: Partial<NodeConfig> = {};
  for (const [name, values] of fields) {
    if (name === "FORM_TYPE") continue;
    const spec = BY_VAR.get(name);
    if (!spec) throw invalid(name, values[0], onBad);
    const value = values[0];
    switch (spec.key) {
      case "title":
        if ((value ?? "").length > 256) throw invalid(name, value, onBad);
        config.title = value ?? "";
        break;
      case "maxItems": {
        const n = value === "max" ? limits.maxItemsLimit : Number(value);
        if (!Number.isInteger(n) || n < 1 || n > limits.maxItemsLimit)
          throw invalid(name, value, onBad);
        config.maxItems = n;
        break;
      }
      case "itemExpire": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0 || n > 10 * 365 * 86400)
          throw invalid(name, value, onBad);
        config.itemExpire = n;
        break;
      }
      case "accessModel":
        if (!ACCESS_MODELS.includes(value as AccessModel)) throw invalid(name, value, onBad);
        config.accessModel = value as AccessModel;
        break;
      case "publishModel":
        if (!PUBLISH_MODELS.includes(value as PublishModel)) throw invalid(name, value, onBad);
        config.publishModel = value as PublishModel;
        break;
      case "sendLastPublishedItem":
        if (!SEND_LAST_PUBLISHED.includes(value as SendLastPublished))
          throw invalid(name, value, onBad);
        config.sendLastPublishedItem = value as SendLastPublished;
        break;
      default: {
        const b = parseBoolean(value);
        if (b === undefined) throw invalid(name, value, onBad);
        (config as Record<string, unknown>)[spec.key] = b;
      }
    }
  }
  return config;
}

export function configFields(config: NodeConfig, limits: ConfigLimits): FormField[] {
  return [
    {
      var: "pubsub#title",
      type: "text-single",
      label: "A friendly name for the node",
      values: [config.title],
    },
    {
      var: "pubsub#max_items",
      type: "text-single",
      label: `Max # of items to persist (1-${limits.maxItemsLimit} or max)`,
      values: [String(config.maxItems)],
    },
    {
      var: "pubsub#persist_items",
      type: "boolean",
      label: "Persist items to storage",
      values: [stored(config.persistItems)],
    },
    {
      var: "pubsub#access_model",
      type: "list-single",
      label: "Specify the subscriber model",
      values: [config.accessModel],
      options: [...ACCESS_MODELS],
    },
    {
      var: "pubsub#publish_model",
      type: "list-single",
      label: "Specify the publisher model",
      values: [config.publishModel],
      options: [...PUBLISH_MODELS],
    },
    {
      var: "pubsub#notify_retract",
      type: "boolean",
      label: "Notify subscribers when items are removed from the node",
      values: [stored(config.notifyRetract)],
    },
    {
      var: "pubsub#notify_delete",
      type: "boolean",
      label: "Notify subscribers when the node is deleted",
      values: [stored(config.notifyDelete)],
    },
    {
      var: "pubsub#item_expire",
      type: "text-single",
      label: "Number of seconds after which to automatically purge items (0 = never)",
      values: [String(config.itemExpire)],
    },
    {
      var: "pubsub#send_last_published_item",
      type: "list-single",
      label: "When to send the last published item",
      values: [config.sendLastPublishedItem],
      options: [...SEND_LAST_PUBLISHED],
    },
  ];
}

export function configForm(config: NodeConfig, limits: ConfigLimits): Element {
  return buildForm("form", FORM_NODE_CONFIG, configFields(config, limits));
}

/** XEP-0060 §5.4 node metadata, as a XEP-0128 extension of disco#info. */
export function metadataForm(record: NodeRecord, numSubscribers: number): Element {
  return buildForm("result", FORM_META_DATA, [
    { var: "pubsub#owner", type: "jid-multi", values: [record.owner] },
    {
      var: "pubsub#creation_date",
      type: "text-single",
      values: [new Date(record.created).toISOString()],
    },
    { var: "pubsub#title", type: "text-single", values: [record.title] },
    { var: "pubsub#access_model", type: "list-single", values: [record.accessModel] },
    { var: "pubsub#publish_model", type: "list-single", values: [record.publishModel] },
    { var: "pubsub#max_items", type: "text-single", values: [String(record.maxItems)] },
    { var: "pubsub#persist_items", type: "boolean", values: [stored(record.persistItems)] },
    { var: "pubsub#item_expire", type: "text-single", values: [String(record.itemExpire)] },
    {
      var: "pubsub#send_last_published_item",
      type: "list-single",
      values: [record.sendLastPublishedItem],
    },
    { var: "pubsub#num_subscribers", type: "text-single", values: [String(numSubscribers)] },
  ]);
}

export { PubsubError };
