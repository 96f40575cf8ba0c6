/**
 * Interop: Debian's python3-slixmpp (its xep_0060 plugin), not our code,
 * creates a node on the component, subscribes, publishes and receives the event.
 * Run with /usr/bin/python3 (Debian's), whose dist-packages hold slixmpp.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Account, useStack } from "../helpers/stack.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";

const SCRIPT = String.raw`
import asyncio, json, os, sys
import slixmpp
from slixmpp.xmlstream import ET

jid, password, host, port, service, node = sys.argv[1:7]
out = {}

class Bot(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(jid, password)
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0060")
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("pubsub_publish", self.on_publish)
        self.done = asyncio.get_event_loop().create_future()

    async def start(self, event):
        self.send_presence()
        try:
            await self["xep_0060"].create_node(service, node)
            sub = await self["xep_0060"].subscribe(service, node)
            out["subscription"] = sub["pubsub"]["subscription"]["subscription"]
            payload = ET.fromstring('<check xmlns="urn:jabmon:0" seq="7" time="2026-01-01T00:00:00Z" name="py" state="ok"/>')
            res = await self["xep_0060"].publish(service, node, id="py1", payload=payload)
            out["published_id"] = res["pubsub"]["publish"]["item"]["id"]
            await asyncio.wait_for(self.done, 10)
            items = await self["xep_0060"].get_items(service, node)
            out["items"] = [i["id"] for i in items["pubsub"]["items"]]
        except Exception as e:
            out["error"] = repr(e)
        print(json.dumps(out), flush=True)
        self.disconnect()

    def on_publish(self, msg):
        item = msg["pubsub_event"]["items"]["item"]
        out["event_node"] = msg["pubsub_event"]["items"]["node"]
        out["event_id"] = item["id"]
        out["event_seq"] = item.xml.get("{urn:jabmon:0}seq")
        out["event_payload"] = item["payload"].tag
        if not self.done.done():
            self.done.set_result(True)

bot = Bot()
# STARTTLS (the server requires it), verifying the stack's self-signed certificate.
bot.ca_certs = os.environ["JABMON_TEST_CA_FILE"]
bot.connect(address=(host, int(port)), force_starttls=True)
asyncio.get_event_loop().run_until_complete(bot.disconnected)
`;

const stack = useStack("psinterop");
let dir: string;
let account: Account;
beforeAll(async () => {
  account = await stack.account();
  // Creating a node other than one's own agents/<jid> node takes pubsub.creators.
  await stack.startComponent({ pubsub: { creators: [account.jid] } });
  dir = await mkdtemp(join(tmpdir(), "jabmon-slixmpp-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("serves slixmpp's xep_0060: create, subscribe, publish, receive the event", async () => {
  const script = join(dir, "pubsub_client.py");
  await writeFile(script, SCRIPT);
  const node = `interop-${account.user}`;
  const { stdout } = await run(
    PYTHON,
    [
      script,
      account.jid,
      account.password,
      "127.0.0.1",
      String(stack.ejabberd.config.c2sPort),
      stack.componentJid,
      node,
    ],
    {
      timeout: 25_000,
      env: { ...process.env, PYTHONPATH: "", JABMON_TEST_CA_FILE: stack.caFile },
    },
  );
  const result = JSON.parse(stdout.trim().split("\n").pop() ?? "{}");
  expect(result).toEqual({
    subscription: "subscribed",
    published_id: "py1",
    event_node: node,
    event_id: "py1",
    event_seq: "1",
    event_payload: "{urn:jabmon:0}check",
    items: ["py1"],
  });
});
