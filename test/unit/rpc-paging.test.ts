/**
 * Pages of the RPC list methods and the byte cap on every answer (issue 18:
 * a reply over ejabberd's max_stanza_size closes the component's stream).
 * test/e2e/rpc-paging.test.ts does the same through ejabberd with 1,500 hosts.
 */
import { describe, expect, it } from "vitest";
import { formatAlerts } from "../../src/adminbot/index.js";
import { Router } from "../../src/component/index.js";
import { silentLogger } from "../../src/log/index.js";
import { NS_RPC } from "../../src/protocol/index.js";
import {
  type AgentsBackend,
  type AlertsBackend,
  alertKey,
  allPages,
  byteSize,
  decodeMethodResponse,
  encodeValue,
  hostsBackend,
  iqEnvelopeBytes,
  type Listing,
  listAnswer,
  methodCallQuery,
  type PageRequest,
  pageRequest,
  RpcFault,
  type RpcStruct,
  type RpcValue,
  registerComponentMethods,
  rpcService,
  sortAlerts,
} from "../../src/rpc/index.js";
import type { HostRecord, HostStore } from "../../src/store/index.js";
import { el } from "../../src/xmpp/index.js";

const entry = (i: number, text = "x"): RpcStruct => ({
  name: `e${String(i).padStart(4, "0")}`,
  text,
});
/** Entries in an order other than their keys', so the pager's own sort is what is tested. */
const shuffled = (n: number, text?: string) =>
  Array.from({ length: n }, (_, i) => entry((i * 7919) % n, text));

const listing = (entries: RpcStruct[]): Listing => ({
  method: "things.list",
  noun: "things",
  position: 1,
  entries,
  key: (e) => String(e.name),
});

type PageValue = { items: RpcStruct[]; total: number; more: boolean; next?: string };
const page = (value: RpcValue) => value as PageValue;

function faultOf(fn: () => unknown): RpcFault {
  try {
    fn();
  } catch (err) {
    if (err instanceof RpcFault) return err;
    throw err;
  }
  throw new Error("no fault");
}

/** Every page in turn, as a caller walks them. */
function walk(entries: RpcStruct[], request: PageRequest, budget: number): PageValue[] {
  const pages: PageValue[] = [];
  let after: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const p = page(listAnswer(listing(entries), { ...request, after }, budget));
    pages.push(p);
    if (!p.more) return pages;
    after = p.next;
  }
  throw new Error("paging did not end");
}

describe("the page parameter", () => {
  it("is optional: without it the caller asked for the whole list", () => {
    expect(pageRequest("m", 2, undefined)).toBeUndefined();
    expect(pageRequest("m", 2, null)).toBeUndefined();
  });

  it("defaults to 100 entries, and gives at most 1000", () => {
    expect(pageRequest("m", 1, {})).toEqual({ limit: 100 });
    expect(pageRequest("m", 1, { limit: 5, after: "k" })).toEqual({ limit: 5, after: "k" });
    expect(pageRequest("m", 1, { limit: 50_000 })).toEqual({ limit: 1000 });
  });

  it("refuses a bad page, naming the method and the parameter", () => {
    for (const bad of ["x", 3, { limit: 0 }, { limit: "5" }, { after: 7 }, { offset: 2 }]) {
      const fault = faultOf(() => pageRequest("hosts.list", 2, bad as RpcValue));
      expect(fault.code).toBe(-32602);
      expect(fault.message).toMatch(/^hosts\.list: parameter 'page' \(2\)/);
    }
  });
});

describe("a list answered in pages", () => {
  it("walks every entry once, in key order, with the total and a cursor on each page", () => {
    const pages = walk(shuffled(250), { limit: 100 }, 1_000_000);
    expect(pages.map((p) => p.items.length)).toEqual([100, 100, 50]);
    expect(pages.map((p) => [p.total, p.more])).toEqual([
      [250, true],
      [250, true],
      [250, false],
    ]);
    expect(pages[0]?.next).toBe("e0099");
    expect(pages[2]?.next).toBeUndefined();
    const names = pages.flatMap((p) => p.items.map((e) => e.name));
    expect(names).toEqual(Array.from({ length: 250 }, (_, i) => entry(i).name));
  });

  it("continues after a cursor whose entry has gone meanwhile, skipping nothing", () => {
    const all = shuffled(30);
    const first = page(listAnswer(listing(all), { limit: 10 }, 1_000_000));
    const without = all.filter((e) => e.name !== first.next);
    const second = page(listAnswer(listing(without), { limit: 10, after: first.next }, 1_000_000));
    expect(second.items[0]?.name).toBe("e0010");
    expect(second.total).toBe(29);
  });

  it("cuts a page to the byte budget, the encoded value within it, and says there is more", () => {
    const entries = shuffled(200, "y".repeat(500));
    const budget = 20_000;
    const pages = walk(entries, { limit: 1000 }, budget);
    expect(pages.length).toBeGreaterThan(5);
    for (const p of pages)
      expect(byteSize(encodeValue(p as RpcStruct))).toBeLessThanOrEqual(budget);
    expect(pages.flatMap((p) => p.items).length).toBe(200);
  });

  it("refuses, rather than loops, when one entry alone is larger than the budget", () => {
    const fault = faultOf(() =>
      listAnswer(listing([entry(1, "z".repeat(5000))]), { limit: 10 }, 2000),
    );
    expect(fault.code).toBe(-32008);
  });
});

describe("a list asked for whole", () => {
  it("is the array, as before paging, when it fits", () => {
    expect(listAnswer(listing(shuffled(3)), undefined, 10_000)).toEqual([
      entry(0),
      entry(1),
      entry(2),
    ]);
  });

  it("is fault -32008 telling the caller to page when it does not fit", () => {
    const fault = faultOf(() =>
      listAnswer(listing(shuffled(100, "y".repeat(500))), undefined, 20_000),
    );
    expect(fault.code).toBe(-32008);
    expect(fault.message).toMatch(/^things\.list: 100 things do not fit in one reply/);
    expect(fault.message).toContain("parameter 'page' (1) as {limit: 100}");
  });
});

describe("callers paging through", () => {
  it("collect every entry of a list, page by page", async () => {
    const entries = shuffled(2500);
    const calls: RpcStruct[] = [];
    const all = await allPages("things.list", async (p) => {
      calls.push(p);
      return listAnswer(
        listing(entries),
        { limit: Number(p.limit), after: p.after as string },
        1e7,
      );
    });
    expect(all).toHaveLength(2500);
    expect(calls).toEqual([
      { limit: 1000 },
      { limit: 1000, after: "e0999" },
      { limit: 1000, after: "e1999" },
    ]);
  });

  it("stop with a fault on a service whose cursor does not advance", async () => {
    const stuck = { items: [entry(1)], total: 5, more: true, next: "e0001" };
    await expect(allPages("things.list", async () => stuck)).rejects.toThrow(/did not advance/);
  });

  it("the AdminBot says how many more there are than it shows", () => {
    const alerts = Array.from({ length: 15 }, (_, i) => ({ id: i, state: "down", jid: `h${i}@x` }));
    const lines = formatAlerts(alerts, new Date(), 40).split("\n");
    expect(lines).toHaveLength(15);
    expect(lines.at(-1)).toBe("… and 26 more");
  });
});

describe("alert keys", () => {
  it("order alerts worst first, then newest first, then by number", () => {
    const at = (state: string, time: number, id: number): RpcStruct => ({
      id,
      state,
      time: new Date(time),
    });
    const alerts = [
      at("warning", 5, 1),
      at("down", 2, 2),
      at("critical", 3, 3),
      at("critical", 3, 4),
    ];
    const keys = alerts.map(alertKey);
    expect([...keys].sort()).toEqual(sortAlerts(alerts).map(alertKey));
    expect(sortAlerts(alerts).map((a) => a.id)).toEqual([2, 3, 4, 1]);
  });
});

// ------------------------------------------------------------------ the service

const host = (i: number, status: string): HostRecord => ({
  jid: `host${String(i).padStart(5, "0")}@example.org`,
  fullJid: "",
  host: `host${i}.example.org`,
  online: false,
  state: "down",
  summary: "went offline",
  status,
  version: "1.0",
  lastSeen: 1_700_000_000_000,
  since: 1_700_000_000_000,
  offlineReason: "went offline",
});

/** The component's methods on `hosts`, a given reply limit, and a `big` method answering `bytes` bytes of text. */
function service(hosts: HostRecord[], maxReplyBytes: number) {
  const router = new Router(silentLogger());
  const rpc = rpcService({
    router,
    log: silentLogger(),
    access: { admins: ["admin@example.org"], viewers: [] },
    maxCallBytes: 100_000,
    maxReplyBytes,
  });
  registerComponentMethods(rpc, {
    ...hostsBackend({ list: async () => hosts } as unknown as HostStore),
    ...({} as AlertsBackend),
    ...({} as AgentsBackend),
  } as never);
  rpc.method({
    name: "big",
    access: "read",
    params: [{ name: "bytes", type: "int" }],
    help: "",
    handler: ([bytes]) => "b".repeat(bytes as number),
  });
  /** One call as an IQ from admin@example.org with this id, through the router: the whole reply's size and its response. */
  const call = async (method: string, params: RpcValue[], id = "c1") => {
    const stanza = el("iq", {
      type: "set",
      from: "admin@example.org/x",
      to: "monitor.example.org",
      id,
    });
    const query = methodCallQuery(method, params);
    stanza.cnode(query);
    const answer = await router.handleIq(stanza, query);
    if (answer === true || answer.name !== "query" || answer.attrs.xmlns !== NS_RPC)
      throw new Error(`not an RPC answer: ${String(answer)}`);
    return {
      bytes: byteSize(answer) + iqEnvelopeBytes(stanza.attrs),
      response: decodeMethodResponse(answer),
    };
  };
  return { call };
}

describe("the reply cap of the RPC service", () => {
  it("replaces an answer over rpc.maxReplyBytes with fault -32008, and sends one that fits", async () => {
    const { call } = service([], 20_000);
    const over = await call("big", [30_000]);
    expect(over.response).toMatchObject({ ok: false, code: -32008 });
    expect(over.response.ok || over.response.message).toMatch(
      /big would be \d+ bytes, more than rpc\.maxReplyBytes \(20000\)/,
    );
    expect((await call("big", [15_000])).response.ok).toBe(true);
  });

  it("counts the IQ around the answer: the id the caller chose is echoed", async () => {
    const { call } = service([], 20_000);
    const fits = await call("big", [15_000], "short");
    expect(fits.response.ok).toBe(true);
    const longId = await call("big", [15_000], "i".repeat(6000));
    expect(longId.response).toMatchObject({ ok: false, code: -32008 });
    expect(longId.bytes).toBeLessThanOrEqual(20_000);
  });

  it("pages hosts.list within the limit however long the id, and refuses the whole list", async () => {
    const hosts = Array.from({ length: 300 }, (_, i) => host(i, "s".repeat(300)));
    const { call } = service(hosts.reverse(), 32_768);
    const whole = await call("hosts.list", []);
    expect(whole.response).toMatchObject({ ok: false, code: -32008 });
    const jids: string[] = [];
    let after: string | undefined;
    for (let round = 0; round < 300; round++) {
      const { bytes, response } = await call(
        "hosts.list",
        ["", after === undefined ? { limit: 1000 } : { limit: 1000, after }],
        "i".repeat(8000),
      );
      expect(bytes).toBeLessThanOrEqual(32_768);
      if (!response.ok) throw new Error(response.message);
      const p = page(response.value);
      expect(p.total).toBe(300);
      jids.push(...p.items.map((h) => String(h.jid)));
      if (!p.more) break;
      after = p.next;
    }
    expect(jids).toEqual(hosts.map((h) => h.jid).sort());
  });

  it("filters before paging: a glob's pages hold only its hosts", async () => {
    const hosts = Array.from({ length: 50 }, (_, i) => host(i, ""));
    const { call } = service(hosts, 262_144);
    const { response } = await call("hosts.list", ["host0001*", { limit: 5 }]);
    expect(response.ok && page(response.value)).toMatchObject({
      total: 10,
      more: true,
      next: "host00014@example.org",
    });
  });
});
