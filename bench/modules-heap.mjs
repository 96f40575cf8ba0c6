#!/usr/bin/env node
/**
 * The agent's module runner alone over N reloads (default 600): heap after a
 * full GC every 100 versions. The XMPP client is a stand-in that serves each
 * new version's item, so only the runner (verify, cache write, rebuild,
 * reschedule) is measured. Run: node --expose-gc bench/modules-heap.mjs 1000
 */
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const root = new URL("../dist", import.meta.url).pathname;
const { ModuleRunner } = await import(`${root}/agent/index.js`);
const m = await import(`${root}/modules/index.js`);
const { silentLogger } = await import(`${root}/log/index.js`);
const { ltx } = await import(`${root}/xmpp/index.js`);
const key = m.generateSigningKey();
const signing = m.loadSigningKey(key.privateKeyPem);
const items = new Map();
function item(version) {
  const manifest = m.parseManifest({ name: "leak", version, target: { hosts: ["*"] }, checks: [{ type: "uptime", name: "up", interval: 3600 }] });
  const bytes = Buffer.from(JSON.stringify(manifest));
  return m.moduleElement({ manifestBytes: bytes, files: new Map(), canary: 100, signature: { key: signing.publicKey, value: m.signManifest(bytes, signing) } }, manifest);
}
const xmpp = Object.assign(new EventEmitter(), {
  iqCallee: { get() {}, set() {} },
  iqCaller: {
    async request(iq) {
      const id = iq.getChild("pubsub").getChild("items").getChild("item").attrs.id;
      return ltx.parse(`<iq><pubsub xmlns="http://jabber.org/protocol/pubsub"><items><item>${items.get(id)}</item></items></pubsub></iq>`);
    },
  },
});
const cacheDir = mkdtempSync(join(tmpdir(), "jabmon-modules-heap-"));
const runner = new ModuleRunner({ xmpp, component: "c", jid: "a@b", host: "a", cacheDir, log: silentLogger(), intervalS: 3600, maxOutputBytes: 4096, onResult() {}, onChange() {} }, { groups: [], trustedKeys: [key.publicKey] });
const N = Number(process.argv[2] ?? 600);
for (let v = 1; v <= N; v++) {
  items.clear(); items.set(`v${v}`, item(v).toString());
  xmpp.emit("stanza", ltx.parse(`<message from="c"><event xmlns="http://jabber.org/protocol/pubsub#event"><items node="modules"><item id="leak"><module xmlns="urn:jabmon:0" name="leak" version="${v}"/></item></items></event></message>`));
  await runner.idle();
  await new Promise((r) => setTimeout(r, 2));
  if (v % 100 === 0) { globalThis.gc(); console.log(v, runner.list()[0], (process.memoryUsage().heapUsed / 1048576).toFixed(2), "MB heap", (process.memoryUsage().rss / 1048576).toFixed(1), "MB rss"); }
}
runner.stop();
rmSync(cacheDir, { recursive: true, force: true });
