/**
 * The fuzzer (issue 13; docs/security.md "Hostile input"): hostile stanzas
 * from bench/fuzz/cases.mjs written by a client session through a real
 * ejabberd c2s to the component, as an attacker would, while an honest agent
 * publishes real results on its own session.
 *
 * Checks, stanza by stanza: every IQ get/set that reaches the component gets
 * exactly one reply, with the error its case allows (never
 * internal-server-error); a Jabber-RPC call gets an XML-RPC fault with a known
 * code; IQ results/errors and messages get none. A stanza ejabberd refuses
 * itself (unparseable, over max_stanza_size) closes the fuzzer's stream: it
 * reconnects and goes on, and the stanza counts as ejabberd's defence. At the
 * end: every honest result was applied by the monitor, and the component (run
 * in this process) holds no more heap than a generous bound over warm-up.
 *
 * Used by `npm run bench:fuzz` (bench/fuzz.mjs, 10,000 stanzas) and by
 * test/e2e/fuzz.test.ts (a smaller count, fixed seed).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import fc from "fast-check";
import { FAULT_CODES, hostileStanza, NS_JABMON, NS_PUBSUB } from "./cases.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dist = (p) => join(root, "dist", p);
const { freePort, PrivateEjabberd } = await import(dist("stack/index.js"));
const { createRedis, deletePrefix, Keys } = await import(dist("store/index.js"));
const { silentLogger, createLogger } = await import(dist("log/index.js"));
const { registerAccount } = await import(dist("xmpp/index.js"));
const { createClient } = await import(dist("client/index.js"));
const { componentSchema } = await import(dist("config/index.js"));
const { startComponent } = await import(dist("server/index.js"));

const REDIS_URL = process.env.JABMON_REDIS_URL ?? "redis://127.0.0.1:6379";
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A full GC before reading the heap: --expose-gc's global when given, else the
 * same function taken from V8 at run time (vitest runs test files without it).
 */
const fullGc = (() => {
  if (typeof globalThis.gc === "function") return globalThis.gc;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc");
})();
const heapMb = () => {
  fullGc();
  return process.memoryUsage().heapUsed / 1048576;
};
const rssMb = () => process.memoryUsage().rss / 1048576;

/** The RFC 6120 condition of an error stanza. */
function conditionOf(stanza) {
  const error = stanza.getChild("error");
  return error?.getChildElements().find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== "text")
    ?.name;
}

/** The faultCode of a Jabber-RPC result, or undefined when it holds no fault. */
function faultCodeOf(stanza) {
  const fault = stanza.getChild("query")?.getChild("methodResponse")?.getChild("fault");
  if (!fault) return undefined;
  const members = fault.getChild("value")?.getChild("struct")?.getChildren("member") ?? [];
  const code = members.find((m) => m.getChildText("name") === "faultCode");
  const value = code?.getChild("value");
  return Number(value?.getChildText("int") ?? value?.getChildText("i4"));
}

export class FuzzStack {
  static async start({ logLevel } = {}) {
    const stack = new FuzzStack();
    stack.prefix = `jabmon-test:${randomUUID()}:`;
    stack.keys = new Keys(stack.prefix);
    stack.ejabberd = await PrivateEjabberd.create({
      name: "fuzz",
      c2sPort: await freePort(),
      componentPort: await freePort(),
      componentPassword: randomBytes(8).toString("hex"),
    });
    await stack.ejabberd.start();
    const account = async (user) => {
      const password = randomBytes(8).toString("hex");
      await registerAccount(stack.ejabberd.c2sService, "localhost", user, password, { caFile: stack.ejabberd.caFile });
      return { user, jid: `${user}@localhost`, password };
    };
    stack.fuzzer = await account(`fuzzer-${randomBytes(3).toString("hex")}`);
    stack.honest = await account(`honest-${randomBytes(3).toString("hex")}`);
    const log = logLevel ? createLogger("fuzz-component", logLevel) : silentLogger();
    stack.component = await startComponent(
      componentSchema.parse({
        xmpp: {
          service: stack.ejabberd.componentService,
          jid: "monitor.localhost",
          password: stack.ejabberd.config.componentPassword,
        },
        redis: { url: REDIS_URL, prefix: stack.prefix },
        http: { host: "127.0.0.1", port: 0 },
        monitor: { agentDomains: ["localhost"], presenceConfirmMs: 3000 },
        // The fuzzer may call every method: its calls reach the XML-RPC decoder.
        rpc: { admins: [stack.fuzzer.jid] },
      }),
      log,
    );
    return stack;
  }

  async client(account) {
    const client = createClient({
      service: this.ejabberd.c2sService,
      domain: "localhost",
      username: account.user,
      password: account.password,
      resource: `fuzz-${randomBytes(3).toString("hex")}`,
      caFile: this.ejabberd.caFile,
    });
    client.on("error", () => {});
    await client.start();
    return client;
  }

  async destroy() {
    await this.component?.stop().catch(() => {});
    await this.ejabberd?.destroy().catch(() => {});
    const redis = createRedis(REDIS_URL, silentLogger());
    await deletePrefix(redis, this.prefix);
    redis.disconnect();
  }
}

/**
 * The honest agent: publishes one real event per `everyMs` to its own node
 * while the fuzz runs. Returns stop(), which resolves to the seqs accepted.
 */
async function honestAgent(stack, everyMs) {
  const client = await stack.client(stack.honest);
  const { xml } = await import("@xmpp/client");
  await client.send(xml("presence"));
  const accepted = [];
  const refused = [];
  let seq = 0;
  let running = true;
  const startedAt = Date.now();
  let lastAt = startedAt;
  const loop = (async () => {
    while (running && seq < 450) {
      seq++;
      const item = xml(
        "event",
        {
          xmlns: NS_JABMON,
          seq: String(seq),
          time: new Date().toISOString(),
          type: "message",
          severity: "info",
        },
        xml("text", {}, `honest ${seq}`),
      );
      const id = `honest-${seq}`;
      const reply = await iqOnce(
        client,
        xml(
          "iq",
          { type: "set", id, to: "monitor.localhost" },
          xml(
            "pubsub",
            { xmlns: NS_PUBSUB },
            xml("publish", { node: `agents/${stack.honest.jid}` }, xml("item", {}, item)),
          ),
        ),
        id,
      );
      (reply?.attrs.type === "result" ? accepted : refused).push(seq);
      lastAt = Date.now();
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.stop().catch(() => {});
      return { accepted, refused, ranMs: lastAt - startedAt };
    },
  };
}

function iqOnce(client, stanza, id, timeoutMs = 20_000) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.removeListener("stanza", on);
      resolve(undefined);
    }, timeoutMs);
    const on = (s) => {
      if (s.is("iq") && s.attrs.id === id) {
        clearTimeout(timer);
        client.removeListener("stanza", on);
        resolve(s);
      }
    };
    client.on("stanza", on);
    client.send(stanza).catch(() => {});
  });
}

/** Judges one case's replies; returns a problem string or undefined. */
export function judge(testCase, replies) {
  const { expect } = testCase;
  if (expect.noReply) return replies.length === 0 ? undefined : `${replies.length} replies to a stanza that needs none`;
  if (replies.length !== 1) return `${replies.length} replies`;
  const reply = replies[0];
  if (reply.attrs.type === "result") {
    if (expect.fault) {
      const code = faultCodeOf(reply);
      if (code === undefined) return undefined; // a valid call: a value
      return FAULT_CODES.has(code) ? undefined : `unknown fault code ${code}`;
    }
    return expect.conditions.includes("result") ? undefined : "a result where an error is due";
  }
  if (reply.attrs.type !== "error") return `a reply of type ${reply.attrs.type}`;
  const condition = conditionOf(reply);
  if (condition === "internal-server-error") return "internal-server-error";
  if (!condition) return "an error with no RFC 6120 condition";
  return expect.conditions.includes(condition) ? undefined : `condition ${condition}`;
}

/**
 * Runs `count` hostile stanzas (seeded) against `stack`. `window`: IQs in
 * flight at once. Returns the figures of bench/results/fuzz.json.
 */
export async function runFuzz(stack, { count, seed = 42, window = 16, honestEveryMs = 100, say = () => {} }) {
  const me = stack.fuzzer.jid;
  const to = "monitor.localhost";
  const other = stack.honest.jid;
  let client = await stack.client(stack.fuzzer);
  let closed = false;
  const watchClose = (c) => {
    c.on("disconnect", () => {
      if (c === client) closed = true;
    });
  };
  watchClose(client);

  const replies = new Map(); // id → stanzas
  const noIdReplies = [];
  const onStanza = (s) => {
    if (!s.is("iq") && !s.is("message")) return;
    const id = s.attrs.id;
    if (s.is("message")) {
      if (id?.startsWith("fz-")) replies.get(id)?.push(s);
      return;
    }
    if (s.attrs.type !== "result" && s.attrs.type !== "error") return;
    if (!id) noIdReplies.push(s);
    else if (replies.has(id)) replies.get(id).push(s);
  };
  client.on("stanza", onStanza);

  const figures = {
    stanzas_sent: 0,
    iqs_expecting_reply: 0,
    iqs_answered: 0,
    iqs_unanswered: 0,
    wrong_replies: 0,
    internal_server_errors: 0,
    ejabberd_closed_stream: 0,
    reconnects: 0,
    no_id_sent: 0,
    no_id_replies: 0,
    crashes: 0,
    families: {},
  };
  const problems = [];
  const pending = new Map(); // id → { testCase, sentAt }

  const settle = async (id, { testCase }) => {
    const got = replies.get(id) ?? [];
    pending.delete(id);
    replies.delete(id);
    if (testCase.expect.noReply) {
      const problem = judge(testCase, got);
      if (problem) {
        figures.wrong_replies++;
        problems.push({ family: testCase.family, problem, raw: testCase.raw.slice(0, 300) });
      }
      return;
    }
    if (got.length > 0) figures.iqs_answered++;
    else figures.iqs_unanswered++;
    const problem = judge(testCase, got);
    if (problem) {
      if (problem === "internal-server-error") figures.internal_server_errors++;
      figures.wrong_replies++;
      problems.push({ family: testCase.family, problem, raw: testCase.raw.slice(0, 300) });
    }
  };

  /** Wait until every pending IQ has its reply (or times out); no-reply cases wait `quietMs`. */
  const drain = async (timeoutMs = 15_000, quietMs = 300) => {
    const start = Date.now();
    for (;;) {
      const now = Date.now();
      for (const [id, p] of pending) {
        const need = p.testCase.expect.noReply ? 0 : 1;
        const have = replies.get(id)?.length ?? 0;
        // Settle once the reply is in and a little more time has passed (a duplicate would show).
        if (need === 0 ? now - p.sentAt > quietMs : have >= 1 && now - p.sentAt > 50) await settle(id, p);
        else if (now - p.sentAt > timeoutMs) await settle(id, p);
      }
      if (pending.size === 0 || closed) return;
      if (Date.now() - start > timeoutMs + 1000) return;
      await sleep(20);
    }
  };

  const reconnect = async () => {
    // Stanzas in flight on the closed stream are lost with it: ejabberd's defence, not ours.
    for (const [id] of pending) {
      pending.delete(id);
      replies.delete(id);
    }
    const old = client;
    client = undefined;
    old.removeListener("stanza", onStanza);
    await old.stop().catch(() => {});
    for (let attempt = 0; ; attempt++) {
      try {
        client = await stack.client(stack.fuzzer);
        break;
      } catch (err) {
        if (attempt > 10) throw err;
        await sleep(200);
      }
    }
    client.on("stanza", onStanza);
    watchClose(client);
    closed = false;
    figures.reconnects++;
  };

  const honest = await honestAgent(stack, honestEveryMs);
  const fuzzStartedAt = Date.now();

  // Warm-up: the first stanzas load code paths; memory is measured after it.
  const warmup = Math.min(500, Math.floor(count / 5));
  let heapBefore = 0;
  let rssBefore = 0;
  let sent = 0;
  let n = 0;
  const batch = 100;
  for (let b = 0; sent < count; b++) {
    const cases = fc.sample(hostileStanza, { seed: seed + b, numRuns: Math.min(batch, count - sent) });
    for (const testCase of cases) {
      if (sent === warmup) {
        await drain();
        heapBefore = heapMb();
        rssBefore = rssMb();
      }
      n++;
      const id = `fz-${n}`;
      const raw = testCase.raw
        .replaceAll("{id}", id)
        .replaceAll("{to}", to)
        .replaceAll("{me}", me)
        .replaceAll("{other}", other)
        .replaceAll("{n}", String(n));
      const family = (figures.families[testCase.family] ??= { sent: 0, closed: 0 });
      family.sent++;
      sent++;
      figures.stanzas_sent++;
      const risky = testCase.expect.mayClose;
      // A stanza that may close the stream goes alone, so nothing else is lost with it.
      if (risky || pending.size >= window) await drain();
      if (closed) await reconnect();
      if (testCase.expect.noId) figures.no_id_sent++;
      else {
        replies.set(id, []);
        pending.set(id, { testCase, sentAt: Date.now() });
        if (!testCase.expect.noReply) figures.iqs_expecting_reply++;
      }
      await client.write(raw).catch(() => {});
      if (risky) {
        // Either a reply comes back or ejabberd closes the stream.
        const start = Date.now();
        while (!closed && (replies.get(id)?.length ?? 0) === 0 && Date.now() - start < 15_000) await sleep(10);
        if (closed) {
          figures.ejabberd_closed_stream++;
          figures.iqs_expecting_reply -= testCase.expect.noReply || testCase.expect.noId ? 0 : 1;
          family.closed++;
          await reconnect();
        } else if (testCase.expect.breaks) {
          // ejabberd parsed what we thought unparseable: judge it as any IQ get.
          await drain();
        } else await drain();
      }
      if (closed && !risky) {
        problems.push({ family: testCase.family, problem: "stream closed", raw: raw.slice(0, 300) });
        figures.wrong_replies++;
        await reconnect();
      }
      if (sent % 1000 === 0) say(`${sent}/${count} sent, ${figures.iqs_answered} answered, ${figures.ejabberd_closed_stream} closed by ejabberd`);
    }
  }
  await drain();
  // IQs without id: replies (if any) have no id to match; count them.
  await sleep(500);
  figures.no_id_replies = noIdReplies.length;
  figures.no_id_reply_conditions = [...new Set(noIdReplies.map(conditionOf))].join(",");

  figures.fuzz_ms = Date.now() - fuzzStartedAt;
  const { accepted, refused, ranMs: honestRanMs } = await honest.stop();
  const redis = createRedis(REDIS_URL, silentLogger());
  let applied = [];
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const raw = await redis.lrange(stack.keys.events(stack.honest.jid), 0, -1);
    applied = raw.map((r) => JSON.parse(r).seq).reverse();
    if (accepted.every((s) => applied.includes(s))) break;
    await sleep(200);
  }
  redis.disconnect();
  const appliedSet = new Set(applied);
  figures.honest_accepted = accepted.length;
  figures.honest_refused = refused.length;
  figures.honest_applied = accepted.filter((s) => appliedSet.has(s)).length;
  figures.honest_lost = accepted.length - figures.honest_applied;
  figures.honest_in_order = applied.every((s, i) => i === 0 || s > applied[i - 1]);
  figures.honest_ran_ms = honestRanMs;

  figures.heap_before_mb = Math.round(heapBefore * 10) / 10;
  figures.heap_after_mb = Math.round(heapMb() * 10) / 10;
  figures.rss_before_mb = Math.round(rssBefore * 10) / 10;
  figures.rss_after_mb = Math.round(rssMb() * 10) / 10;
  figures.heap_measured_after_gc = true;
  figures.component_link_up = stack.component.link.isOnline();
  figures.stanza_shape_refused = stack.component.link.router?.refused ?? null;
  await client?.stop().catch(() => {});
  return { figures, problems };
}
