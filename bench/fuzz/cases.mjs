/**
 * The hostile stanzas of the fuzzer (issue 13, docs/security.md "Hostile
 * input"): fast-check arbitraries that each yield one raw XML string to write
 * on a client's stream, addressed to the component, and what the answer must
 * be. Each case has a `family` (for the per-family counts of the report) and
 * an `expect`:
 *
 * - `{ conditions }`: an IQ get/set; exactly one reply, an error whose RFC 6120
 *   condition is one of these (or `result` in the list: a result is allowed).
 * - `{ fault: true }`: a Jabber-RPC call; exactly one result carrying an
 *   XML-RPC fault with one of the codes of src/rpc/errors.ts, or a stanza error
 *   among `conditions`.
 * - `{ noReply: true }`: an IQ result/error or a message: nothing comes back.
 * - `mayClose`: ejabberd may refuse the stanza itself and close the stream
 *   (unparseable XML, over c2s max_stanza_size); that is ejabberd's defence and
 *   counted as such. Without it, a closed stream is a failure.
 */
import fc from "fast-check";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_RPC = "jabber:iq:rpc";
export const NS_JABMON = "urn:jabmon:0";
export const NS_DATA = "jabber:x:data";

/** XML-RPC fault codes jabmon answers with (src/rpc/errors.ts). */
export const FAULT_CODES = new Set([
  -32700, -32600, -32601, -32602, -32603, -32001, -32002, -32003, -32004, -32005, -32006, -32007,
]);

const esc = (s) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Text with the characters XML allows (no control characters ejabberd refuses). */
const text = (maxLength = 40) =>
  fc
    .string({ unit: "grapheme", maxLength })
    .map((s) => s.replace(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd]/gu, ""));
const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/);

/** One case: raw XML plus its expectation; `{id}` and `{to}` are filled in when sent. */
const iqCase = (family, type, payload, expect) => ({
  family,
  raw: `<iq type="${type}" id="{id}" to="{to}">${payload}</iq>`,
  expect,
});

const PUBSUB_ERRORS = [
  "bad-request",
  "not-acceptable",
  "forbidden",
  "item-not-found",
  "not-allowed",
  "feature-not-implemented",
  "policy-violation",
  "conflict",
  "service-unavailable",
  "resource-constraint",
  "not-authorized",
  "unexpected-request",
];

// ------------------------------------------------------------------ families

/** An unknown namespace or element: service-unavailable (RFC 6120 §8.4). */
const wrongNamespace = fc
  .record({ type: fc.constantFrom("get", "set"), el: name, ns: name, body: text(60) })
  .map(({ type, el, ns, body }) =>
    iqCase(
      "wrong-namespace",
      type,
      `<${el} xmlns="urn:fuzz:${ns}">${esc(body)}</${el}>`,
      { conditions: ["service-unavailable"] },
    ),
  );

/** No payload or two payloads: bad-request (RFC 6120 §8.2.3). */
const wrongPayloadCount = fc
  .record({ type: fc.constantFrom("get", "set"), two: fc.boolean() })
  .map(({ type, two }) =>
    iqCase(
      "payload-count",
      type,
      two ? `<pubsub xmlns="${NS_PUBSUB}"/><query xmlns="${NS_RPC}"/>` : "",
      { conditions: ["bad-request"] },
    ),
  );

/** Nesting past the component's 128 levels: policy-violation (docs/security.md "Stanza shape"). */
const deepNesting = fc
  .record({ depth: fc.integer({ min: 130, max: 2500 }), el: name })
  .map(({ depth, el }) =>
    iqCase(
      "deep-nesting",
      "set",
      `<pubsub xmlns="${NS_PUBSUB}">${`<${el}>`.repeat(depth)}${`</${el}>`.repeat(depth)}</pubsub>`,
      { conditions: ["policy-violation"], mayClose: true },
    ),
  );

/** More than 20,000 elements: policy-violation. */
const manyChildren = fc
  .record({ count: fc.integer({ min: 20_001, max: 40_000 }) })
  .map(({ count }) =>
    iqCase(
      "many-children",
      "set",
      `<pubsub xmlns="${NS_PUBSUB}"><publish node="fuzz">${"<a/>".repeat(count)}</publish></pubsub>`,
      { conditions: ["policy-violation"], mayClose: true },
    ),
  );

/** Thousands of children under the element limit: an ordinary pubsub error. */
const thousandsOfChildren = fc
  .record({ count: fc.integer({ min: 1000, max: 19_000 }), own: fc.boolean() })
  .map(({ count, own }) =>
    iqCase(
      "thousands-of-children",
      "set",
      `<pubsub xmlns="${NS_PUBSUB}"><publish node="${own ? "agents/{me}" : "fuzz"}"><item>${"<x/>".repeat(count)}</item></publish></pubsub>`,
      { conditions: PUBSUB_ERRORS },
    ),
  );

/** A huge attribute, under or over ejabberd's c2s max_stanza_size (262,144). */
const hugeAttribute = fc
  .record({
    size: fc.oneof(fc.integer({ min: 1000, max: 200_000 }), fc.integer({ min: 270_000, max: 400_000 })),
    where: fc.constantFrom("node", "item", "items", "subscribe", "rpc"),
  })
  .map(({ size, where }) => {
    const big = "x".repeat(size);
    const payloads = {
      node: `<pubsub xmlns="${NS_PUBSUB}"><publish node="${big}"><item><check xmlns="${NS_JABMON}"/></item></publish></pubsub>`,
      item: `<pubsub xmlns="${NS_PUBSUB}"><publish node="agents/{me}"><item id="${big}"><check xmlns="${NS_JABMON}" seq="1" name="a" state="ok" time="2026-01-01T00:00:00Z"/></item></publish></pubsub>`,
      items: `<pubsub xmlns="${NS_PUBSUB}"><items node="agents/{me}" max_items="${big}"/></pubsub>`,
      subscribe: `<pubsub xmlns="${NS_PUBSUB}"><subscribe node="${big}" jid="{me}"/></pubsub>`,
      rpc: `<query xmlns="${NS_RPC}"><methodCall><methodName>${big}</methodName></methodCall></query>`,
    };
    const type = where === "items" ? "get" : "set";
    return iqCase("huge-attribute", type, payloads[where], {
      conditions: [...PUBSUB_ERRORS, "result"],
      fault: where === "rpc",
      mayClose: size > 250_000,
    });
  });

/** An IQ without id: ejabberd or the component answers bad-request, or drops it. */
const noId = fc.constantFrom("get", "set").map((type) => ({
  family: "no-id",
  raw: `<iq type="${type}" to="{to}"><pubsub xmlns="${NS_PUBSUB}"><items node="agents/{me}"/></pubsub></iq>`,
  expect: { noId: true },
}));

/** IQ result/error and messages to the component: no reply (RFC 6120 §8.2.3). */
const noReply = fc
  .record({ kind: fc.constantFrom("result", "error", "message"), body: text(200) })
  .map(({ kind, body }) => ({
    family: "no-reply",
    raw:
      kind === "message"
        ? `<message to="{to}" id="{id}" type="chat"><body>${esc(body)}</body></message>`
        : `<iq type="${kind}" id="{id}" to="{to}"><foo xmlns="urn:fuzz">${esc(body)}</foo></iq>`,
    expect: { noReply: true },
  }));

/** Bad item payloads, each with the errors XEP-0060 §7.1.3 names for it on one's own node. */
const badPayloads = fc.oneof(
  fc.constant({ xml: "", own: ["bad-request"] }),
  fc.constant({
    xml: `<check xmlns="${NS_JABMON}"/><check xmlns="${NS_JABMON}"/>`,
    own: ["bad-request"],
  }),
  text(80).map((t) => ({ xml: `<check xmlns="urn:fuzz">${esc(t)}</check>`, own: ["bad-request"] })),
  fc.record({ seq: text(12), state: text(10), nm: text(20), time: text(25) }).map(
    ({ seq, state, nm, time }) => ({
      xml: `<check xmlns="${NS_JABMON}" seq="${esc(seq)}" state="${esc(state)}" name="${esc(nm)}" time="${esc(time)}"/>`,
      own: ["bad-request", "unexpected-request", "result"],
    }),
  ),
  fc.record({ seq: fc.integer({ min: -5, max: 5 }), body: text(100) }).map(({ seq, body }) => ({
    xml: `<event xmlns="${NS_JABMON}" seq="${seq}"><text>${esc(body)}</text></event>`,
    own: ["bad-request", "unexpected-request", "result"],
  })),
  fc.integer({ min: 66_000, max: 200_000 }).map((n) => ({
    xml: `<check xmlns="${NS_JABMON}" seq="1" name="a" state="ok" time="2026-01-01T00:00:00Z"><output>${"y".repeat(n)}</output></check>`,
    own: ["not-acceptable"],
  })),
  fc.constantFrom("<metric/>", `<check xmlns="${NS_JABMON}"><check/><check/></check>`).map((xml) => ({
    xml,
    own: ["bad-request"],
  })),
);

/**
 * Publishes with bad items: XEP-0060 §7.1.3 errors. Whatever the item, a
 * publish to another JID's node, to the component's `alerts` node or to a
 * node that does not exist is never accepted.
 */
const badPublish = fc
  .record({
    node: fc.constantFrom("agents/{me}", "agents/{other}", "agents/nobody@localhost", "", "fuzz-{n}", "alerts"),
    itemId: fc.option(text(20)),
    payload: badPayloads,
    noItem: fc.boolean(),
  })
  .map(({ node, itemId, payload, noItem }) => {
    const nodeAttr = node === "" ? "" : ` node="${node}"`;
    const id = itemId === null ? "" : ` id="${esc(itemId)}"`;
    const item = noItem ? "" : `<item${id}>${payload.xml}</item>`;
    const refusals = ["forbidden", "bad-request", "not-acceptable", "item-not-found", "not-allowed"];
    const conditions =
      node === "" ? ["bad-request"] : node === "agents/{me}" ? (noItem ? ["bad-request"] : payload.own) : refusals;
    return iqCase("bad-publish", "set", `<pubsub xmlns="${NS_PUBSUB}"><publish${nodeAttr}>${item}</publish></pubsub>`, {
      conditions,
    });
  });

const formField = fc
  .record({
    v: fc.constantFrom(
      "pubsub#max_items",
      "pubsub#access_model",
      "pubsub#persist_items",
      "pubsub#deliver_payloads",
      "pubsub#notify_retract",
      "pubsub#publish_model",
      "pubsub#fuzz",
      "FORM_TYPE",
    ),
    values: fc.array(text(30), { maxLength: 4 }),
    type: fc.option(fc.constantFrom("boolean", "list-single", "text-single", "jid-multi", "fuzz")),
  })
  .map(
    ({ v, values, type }) =>
      `<field var="${v}"${type ? ` type="${type}"` : ""}>${values.map((x) => `<value>${esc(x)}</value>`).join("")}</field>`,
  );

/** Data forms with wrong types: configure, create, publish-options, subscribe options. */
const badForm = fc
  .record({
    where: fc.constantFrom("configure", "create", "publish-options", "options"),
    formType: fc.constantFrom(
      "http://jabber.org/protocol/pubsub#node_config",
      "http://jabber.org/protocol/pubsub#publish-options",
      "urn:fuzz",
      "",
    ),
    xtype: fc.constantFrom("submit", "form", "cancel", "result", "fuzz"),
    fields: fc.array(formField, { maxLength: 8 }),
  })
  .map(({ where, formType, xtype, fields }) => {
    const ft = formType
      ? `<field var="FORM_TYPE" type="hidden"><value>${formType}</value></field>`
      : "";
    const form = `<x xmlns="${NS_DATA}" type="${xtype}">${ft}${fields.join("")}</x>`;
    const payload = {
      configure: `<pubsub xmlns="${NS_OWNER}"><configure node="agents/{me}">${form}</configure></pubsub>`,
      create: `<pubsub xmlns="${NS_PUBSUB}"><create node="fuzz-{n}"/><configure>${form}</configure></pubsub>`,
      "publish-options": `<pubsub xmlns="${NS_PUBSUB}"><publish node="agents/{me}"><item><event xmlns="${NS_JABMON}" seq="1" time="2026-01-01T00:00:00Z" type="message" severity="info"><text>x</text></event></item></publish><publish-options>${form}</publish-options></pubsub>`,
      options: `<pubsub xmlns="${NS_PUBSUB}"><options node="agents/{me}" jid="{me}">${form}</options></pubsub>`,
    }[where];
    return iqCase("bad-form", "set", payload, { conditions: [...PUBSUB_ERRORS, "result"] });
  });

/** An XML-RPC value: of any type, wrong text, unknown type, or nested. */
const rpcValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer().map((n) => `<value><int>${n}</int></value>`),
    text(20).map((t) => `<value><int>${esc(t)}</int></value>`),
    text(20).map((t) => `<value><string>${esc(t)}</string></value>`),
    text(10).map((t) => `<value><boolean>${esc(t)}</boolean></value>`),
    text(10).map((t) => `<value><double>${esc(t)}</double></value>`),
    text(30).map((t) => `<value><dateTime.iso8601>${esc(t)}</dateTime.iso8601></value>`),
    text(30).map((t) => `<value><base64>${esc(t)}</base64></value>`),
    name.map((t) => `<value><${t}>1</${t}></value>`),
    fc.constant("<value><nil/></value>"),
    fc.constant("<value/>"),
    fc
      .array(tie("value"), { maxLength: 4 })
      .map((vs) => `<value><array><data>${vs.join("")}</data></array></value>`),
    fc
      .array(fc.tuple(text(10), tie("value")), { maxLength: 4 })
      .map(
        (ms) =>
          `<value><struct>${ms.map(([n, v]) => `<member><name>${esc(n)}</name>${v}</member>`).join("")}</struct></value>`,
      ),
  ),
})).value;

const METHODS = [
  "system.listMethods",
  "system.methodHelp",
  "hosts.list",
  "host.status",
  "alerts.list",
  "alert.ack",
  "alert.unack",
  "silence.add",
  "silence.list",
  "silence.remove",
  "check.run",
  "agent.reload",
  "fuzz.method",
];

/** XML-RPC bodies: malformed, huge, deeply nested, wrong types: XEP-0009 faults. */
const badRpc = fc.oneof(
  fc
    .record({
      method: fc.constantFrom(...METHODS),
      params: fc.array(rpcValue, { maxLength: 5 }),
      wrap: fc.boolean(),
    })
    .map(({ method, params, wrap }) =>
      iqCase(
        "rpc-types",
        "set",
        `<query xmlns="${NS_RPC}"><methodCall><methodName>${method}</methodName><params>${params
          .map((p) => (wrap ? `<param>${p}</param>` : p))
          .join("")}</params></methodCall></query>`,
        { fault: true, conditions: ["result"] },
      ),
    ),
  fc
    .constantFrom(
      "",
      "<methodCall/>",
      "<methodCall><params/></methodCall>",
      "<methodCall><methodName/></methodCall>",
      "<methodResponse><params/></methodResponse>",
      "<methodCall><methodName>hosts.list</methodName><params><param/></params></methodCall>",
      "<methodCall><methodName>hosts.list</methodName><methodName>x</methodName></methodCall>",
      "<fuzz/>",
    )
    .map((body) =>
      iqCase("rpc-malformed", "set", `<query xmlns="${NS_RPC}">${body}</query>`, {
        fault: true,
        conditions: ["result", "bad-request"],
      }),
    ),
  fc.integer({ min: 33, max: 60 }).map((depth) =>
    iqCase(
      "rpc-deep",
      "set",
      `<query xmlns="${NS_RPC}"><methodCall><methodName>hosts.list</methodName><params><param>${"<value><array><data>".repeat(depth)}${"</data></array></value>".repeat(depth)}</param></params></methodCall></query>`,
      { fault: true, conditions: ["result", "policy-violation"] },
    ),
  ),
  fc.integer({ min: 70_000, max: 240_000 }).map((size) =>
    iqCase(
      "rpc-huge",
      "set",
      `<query xmlns="${NS_RPC}"><methodCall><methodName>hosts.list</methodName><params><param><value><string>${"z".repeat(size)}</string></value></param></params></methodCall></query>`,
      { fault: true, conditions: ["result"] },
    ),
  ),
);

/** Bytes ejabberd cannot parse: it closes the sender's stream (xml-not-well-formed). */
const brokenXml = fc
  .constantFrom(
    `<iq type="get" id="{id}" to="{to}"><pubsub xmlns="${NS_PUBSUB}"></iq>`,
    `<iq type="get" id="{id}" to="{to}" to="x"/>`,
    `<iq type="get" id="{id}" to="{to}"><a b="<"/></iq>`,
    `<iq type="get" id="{id}" to="{to}">&undefined;</iq>`,
    `<!DOCTYPE x [<!ENTITY a "aaaa">]><iq type="get" id="{id}" to="{to}"/>`,
    `<iq type="get" id="{id}" to="{to}"><?pi x?></iq>`,
    `<iq type="get" id="{id}" to="{to}"><a></b></iq>`,
    `<iq type="get" id="{id}" to="{to}"><a xmlns:p="urn:x"><q:b/></a></iq>`,
    "\u0000\u0001<iq/>",
  )
  .map((raw) => ({ family: "broken-xml", raw, expect: { breaks: true, mayClose: true, conditions: [...PUBSUB_ERRORS, "result"] } }));

/**
 * Every family, weighted: most stanzas are cheap; oversized ones are fewer
 * (each costs up to 400 kB on the wire and in the parsers).
 */
export const hostileStanza = fc.oneof(
  { arbitrary: wrongNamespace, weight: 10 },
  { arbitrary: wrongPayloadCount, weight: 5 },
  { arbitrary: deepNesting, weight: 3 },
  { arbitrary: manyChildren, weight: 1 },
  { arbitrary: thousandsOfChildren, weight: 2 },
  { arbitrary: hugeAttribute, weight: 2 },
  { arbitrary: noId, weight: 3 },
  { arbitrary: noReply, weight: 5 },
  { arbitrary: badPublish, weight: 25 },
  { arbitrary: badForm, weight: 15 },
  { arbitrary: badRpc, weight: 25 },
  { arbitrary: brokenXml, weight: 2 },
);
