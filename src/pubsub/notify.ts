/**
 * Event notifications: items, retractions, purges and deletes to the node's
 * delivering subscribers; the last published item to a new subscription;
 * subscription changes to the subscriber; authorization requests to owners;
 * agent nodes appearing and going to `alertpublishers` listeners.
 *
 * https://xmpp.org/extensions/xep-0060.html#publisher-publish-success-withpayload
 * https://xmpp.org/extensions/xep-0060.html#owner-subreq
 * https://xmpp.org/extensions/xep-0203.html (the delay stamp on a last published item)
 */
import type { ComponentLink } from "../component/index.js";
import type { Logger } from "../log/index.js";
import { NS_DELAY, NS_JABMON, NS_PUBSUB_EVENT } from "../protocol/index.js";
import { type Element, el, ltx } from "../xmpp/index.js";
import { FORM_SUBSCRIBE_AUTHORIZATION, type NodeRecord } from "./config.js";
import { buildForm } from "./forms.js";
import { ALERTPUBLISHERS } from "./names.js";
import type { PubsubStore, Subscription } from "./store.js";

/**
 * The per-node sequence rides on each `<item/>` as the attribute `jabmon:seq`
 * (namespace urn:jabmon:0), in notifications and in retrieved items alike.
 */
export const itemElement = (id: string, seq: number, publisher: string, payload?: Element) =>
  el("item", { id, publisher, "xmlns:jabmon": NS_JABMON, "jabmon:seq": seq }, payload);

export interface Notifier {
  /** One `<event/>` (built per message) to each JID of `deliver`. */
  notify(deliver: string[], build: () => Element): void;
  /**
   * XEP-0060 §6.1.7: a new subscription gets the node's last item, if the node
   * says so (`on_sub_and_presence` acts as `on_sub`) and the subscription
   * delivers. The item has its jabmon:seq like any notification, and the
   * message a XEP-0203 `<delay/>` with the publish time, so a client tells it
   * from a new publish. Sent on the next turn, after the IQ result the handler
   * returns.
   */
  sendLastItem(node: string, record: NodeRecord, subscription: Subscription): Promise<void>;
  /**
   * §8.8.4 / §8.6: tell an entity its subscription changed (approved, denied,
   * set or removed by an owner): `<event><subscription node jid subscription/></event>`.
   */
  notifySubscription(
    node: string,
    jid: string,
    state: "none" | Subscription["state"],
    subid?: string,
  ): void;
  /**
   * §8.6: a subscription just became pending, so every owner of the node gets
   * the pubsub#subscribe_authorization form (a normal message: ejabberd keeps
   * it offline for an owner who is away). The component does not ask itself: a
   * node only it owns asks the admins.
   */
  requestAuthorization(node: string, subscription: Subscription): Promise<void>;
  /** `<collection node='alertpublishers'><associate|disassociate node/></collection>` to every listener. */
  tellAgentListeners(change: "associate" | "disassociate", node: string): void;
}

export interface NotifierDeps {
  link: ComponentLink;
  store: PubsubStore;
  log: Logger;
  /** Who answers authorization requests for a node only the component owns. */
  admins: Iterable<string>;
}

function authorizationForm(node: string, subscription: Subscription): Element {
  return buildForm(
    "form",
    FORM_SUBSCRIBE_AUTHORIZATION,
    [
      { var: "pubsub#subid", type: "hidden", values: [subscription.subid] },
      { var: "pubsub#node", type: "text-single", label: "Node ID", values: [node] },
      {
        var: "pubsub#subscriber_jid",
        type: "jid-single",
        label: "Subscriber Address",
        values: [subscription.jid],
      },
      {
        var: "pubsub#allow",
        type: "boolean",
        label: "Allow this JID to subscribe to this pubsub node?",
        values: ["false"],
      },
    ],
    {
      title: "PubSub subscriber request",
      instructions:
        "To approve this entity's subscription request, set pubsub#allow to true and submit; to deny it, submit false.",
    },
  );
}

export function notifier({ link, store, log, admins }: NotifierDeps): Notifier {
  let messageCounter = 0;
  const nextId = () => `ps${++messageCounter}`;

  const eventMessage = (to: string, payload: Element, delay?: Element) =>
    el(
      "message",
      { from: link.jid, to, type: "headline", id: nextId() },
      el("event", { xmlns: NS_PUBSUB_EVENT }, payload),
      delay,
    );

  return {
    notify(deliver, build) {
      for (const to of deliver) link.send(eventMessage(to, build()));
    },

    async sendLastItem(node, record, subscription) {
      if (record.sendLastPublishedItem === "never") return;
      if (subscription.state !== "subscribed" || !subscription.deliver) return;
      const item = await store.lastItem(node);
      if (!item) return;
      if (record.itemExpire > 0 && item.publishedAt < Date.now() - record.itemExpire * 1000) return;
      const message = eventMessage(
        subscription.jid,
        el(
          "items",
          { node },
          itemElement(item.id, item.seq, item.publisher, ltx.parse(item.payload)),
        ),
        el("delay", {
          xmlns: NS_DELAY,
          from: link.jid,
          stamp: new Date(item.publishedAt).toISOString(),
        }),
      );
      setImmediate(() => link.send(message));
    },

    notifySubscription(node, jid, state, subid) {
      link.send(
        el(
          "message",
          { from: link.jid, to: jid, id: nextId() },
          el(
            "event",
            { xmlns: NS_PUBSUB_EVENT },
            el("subscription", { node, jid, subscription: state, subid }),
          ),
        ),
      );
    },

    async requestAuthorization(node, subscription) {
      const owners = (await store.affiliations(node))
        .filter((a) => a.affiliation === "owner" && a.jid !== link.jid)
        .map((a) => a.jid);
      const form = authorizationForm(node, subscription);
      for (const to of owners.length > 0 ? owners : [...admins])
        link.send(el("message", { from: link.jid, to, id: nextId() }, form));
    },

    tellAgentListeners(change, node) {
      store.agentListeners().then(
        (listeners) => {
          for (const to of listeners)
            link.send(
              eventMessage(to, el("collection", { node: ALERTPUBLISHERS }, el(change, { node }))),
            );
        },
        (err: Error) =>
          log.warn({ err: err.message, node }, "cannot tell alertpublishers listeners"),
      );
    },
  };
}
