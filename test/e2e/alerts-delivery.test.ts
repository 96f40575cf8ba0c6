/**
 * Alert delivery to the `alerts` pubsub node (XEP-0060 items, RSM retrieval)
 * and to a MUC room (XEP-0045), through a real ejabberd and the component.
 */
import type { Client } from "@xmpp/client";
import { xml } from "@xmpp/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import {
  available,
  collectEvents,
  errorOf,
  eventItems,
  iq,
  NS_JABMON,
  NS_RSM,
  pubsub,
} from "../helpers/pubsub.js";
import { type Account, useStack, waitForHost } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const ROOM = "ops@conference.localhost";
const NS_MUC = "http://jabber.org/protocol/muc";
const NS_MUC_USER = "http://jabber.org/protocol/muc#user";

const stack = useStack("alerts-delivery");
let component: RunningComponent;
let readerAccount: Account;

beforeAll(async () => {
  readerAccount = await stack.account("alertreader");
  component = await stack.startComponent({
    alerts: { room: ROOM },
    pubsub: { subscribers: [readerAccount.jid] },
  });
});

const nagios = (check: string, state: string) => ({
  kind: "nagios" as const,
  jid: "legacy01",
  host: "legacy01",
  check,
  state,
  previous: "",
  text: `${check} is ${state}`,
});

describe("the alerts pubsub node", () => {
  it("exists at start, owned by the component, whitelist", async () => {
    const node = await component.pubsub.store.node("alerts");
    expect(node).toMatchObject({ owner: stack.componentJid, accessModel: "whitelist" });
  });

  it("refuses a subscriber that is not in pubsub.subscribers", async () => {
    const outsider = await stack.client();
    const reply = await iq(
      outsider,
      stack.componentJid,
      "set",
      pubsub(xml("subscribe", { node: "alerts", jid: outsider.jid?.bare().toString() })),
    );
    expect(errorOf(reply)).toEqual(["not-allowed", "closed-node"]);
  });

  it("publishes every alert as an <alert/> item to subscribers, retrievable with RSM", async () => {
    const reader: Client = await stack.client(readerAccount);
    const events = collectEvents(reader);
    // Notifications go to the bare JID: be available, as a real alertbot is.
    await available(reader);
    const sub = await iq(
      reader,
      stack.componentJid,
      "set",
      pubsub(xml("subscribe", { node: "alerts", jid: readerAccount.jid })),
    );
    expect(errorOf(sub)).toBeUndefined();

    const ids: string[] = [];
    for (const state of ["critical", "warning", "ok"])
      ids.push(await component.monitor.alerts.raise(nagios("HTTP", state)));
    const items = await waitFor(
      () => {
        const got = eventItems(events, "alerts");
        return got.length >= 3 ? got : undefined;
      },
      { timeoutMs: 5000, what: "three alert notifications" },
    );
    expect(items.map((i) => i.id)).toEqual(ids);
    const first = items[0]?.payload;
    expect(first?.name).toBe("alert");
    expect(first?.attrs).toMatchObject({
      xmlns: NS_JABMON,
      id: ids[0],
      kind: "nagios",
      jid: "legacy01",
      check: "HTTP",
      state: "critical",
    });
    expect(first?.getChildText("text")).toBe("HTTP is critical");
    expect(items[1]?.seq).toBe((items[0]?.seq ?? 0) + 1);

    // Page through them: the first two, then what came after the second.
    const page = await iq(
      reader,
      stack.componentJid,
      "get",
      pubsub(xml("items", { node: "alerts" }), xml("set", { xmlns: NS_RSM }, xml("max", {}, "2"))),
    );
    const pageIds = page
      .getChild("pubsub")
      ?.getChild("items")
      ?.getChildren("item")
      .map((i: { attrs: { id: string } }) => i.attrs.id);
    expect(pageIds).toEqual(ids.slice(0, 2));
    expect(page.getChild("pubsub")?.getChild("set", NS_RSM)?.getChildText("count")).toBe("3");
    const rest = await iq(
      reader,
      stack.componentJid,
      "get",
      pubsub(
        xml("items", { node: "alerts" }),
        xml("set", { xmlns: NS_RSM }, xml("after", {}, ids[1] as string)),
      ),
    );
    const restItems = rest.getChild("pubsub")?.getChild("items")?.getChildren("item") ?? [];
    expect(restItems.map((i: { attrs: { id: string } }) => i.attrs.id)).toEqual([ids[2]]);
    expect(restItems[0]?.getChild("alert", NS_JABMON)?.attrs.state).toBe("ok");
  });
});

describe("the alerts pubsub node, deleted", () => {
  it("is created again by the next alert", async () => {
    await component.pubsub.store.delete("alerts");
    expect(await component.pubsub.store.node("alerts")).toBeUndefined();
    const id = await component.monitor.alerts.raise(nagios("SMTP", "critical"));
    await waitFor(async () => (await component.pubsub.store.itemIds("alerts")).includes(id), {
      timeoutMs: 5000,
      what: "the alert on a new alerts node",
    });
    expect(await component.pubsub.store.node("alerts")).toMatchObject({
      owner: stack.componentJid,
      accessModel: "whitelist",
    });
  });
});

describe("the alert room", () => {
  it("gets a readable 'host down' message when an agent is SIGKILLed", async () => {
    const watcher = await stack.client();
    const groupchat: string[] = [];
    let joined = false;
    watcher.on("stanza", (stanza) => {
      if (stanza.is("message") && stanza.attrs.type === "groupchat") {
        const body = stanza.getChildText("body");
        if (body && stanza.attrs.from === `${ROOM}/jabmon`) groupchat.push(body);
      }
      if (
        stanza.is("presence") &&
        stanza.attrs.from === `${ROOM}/watcher` &&
        stanza.attrs.type !== "error" &&
        stanza
          .getChild("x", NS_MUC_USER)
          ?.getChildren("status")
          .some((s: { attrs: { code: string } }) => s.attrs.code === "110")
      )
        joined = true;
    });
    // The component created the room at start; join as a person would (retrying
    // until the component has unlocked it).
    await waitFor(
      async () => {
        if (!joined)
          await watcher.send(
            xml("presence", { to: `${ROOM}/watcher` }, xml("x", { xmlns: NS_MUC })),
          );
        await new Promise((r) => setTimeout(r, 200));
        return joined;
      },
      { timeoutMs: 10_000, what: "joined the alert room" },
    );

    const account = await stack.account("roomdown01");
    const agent = stack.spawnAgent(account);
    await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === true, 15_000);
    agent.kill("SIGKILL");
    // On a loaded machine the agent's real load check may alert first: look for the host's own alert.
    const body = await waitFor(
      () => groupchat.find((b) => b.includes("roomdown01@localhost") && b.includes(" is DOWN")),
      {
        timeoutMs: 5000,
        what: "host down message in the room",
      },
    );
    expect(body).toMatch(/^PROBLEM: host .*roomdown01@localhost.* is DOWN: went offline/);
  });
});
