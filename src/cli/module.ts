/**
 * `jabmon module …` (docs/modules.md): make a signing key, sign a module
 * directory, publish it (optionally to a canary share of the agents), promote
 * or roll it back, list modules and show who runs which version.
 *
 * A module directory holds `module.json` (name, version, target, checks,
 * optional minAgentVersion and description) and the files it ships; `sign`
 * adds every other file's sha256 to the manifest and writes the signed item
 * to `signed.xml` in the directory, which `publish` sends.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { type Client, xml } from "@xmpp/client";
import { parseChecks } from "../agent/config.js";
import { createClient } from "../client/index.js";
import { ConfigError } from "../config/index.js";
import {
  decodeModule,
  generateSigningKey,
  isModuleFilePath,
  loadSigningKey,
  type Manifest,
  MODULES_INDEX,
  ModuleError,
  moduleElement,
  moduleItemId,
  moduleNode,
  parseCanary,
  parseManifest,
  sha256Hex,
  signManifest,
  verifyModule,
} from "../modules/core.js";
import { NS_JABMON, NS_PUBSUB, NS_RPC } from "../protocol/index.js";
import { decodeMethodResponse, methodCallQuery, type RpcValue } from "../rpc/codec.js";
import { VERSION } from "../version.js";
import { type Element, ltx } from "../xmpp/index.js";

export const SIGNED_FILE = "signed.xml";
const SOURCE_FILE = "module.json";

/** A user's mistake in a module or its options: printed without a stack trace. */
const userError = (message: string) => new ConfigError(message);

export function keygen(out: string): string {
  const pair = generateSigningKey();
  writeFileSync(out, pair.privateKeyPem, { mode: 0o600, flag: "wx" });
  writeFileSync(`${out}.pub`, `${pair.publicKey}\n`, { flag: "wx" });
  return pair.publicKey;
}

function listFiles(dir: string, root = dir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    const rel = relative(root, path);
    if (rel === SOURCE_FILE || rel === SIGNED_FILE) continue;
    if (entry.isDirectory()) out.push(...listFiles(path, root));
    else if (entry.isFile()) {
      if (!isModuleFilePath(rel))
        throw userError(`${rel}: file names are letters, digits, _ . - (no . or .. segments)`);
      out.push(rel);
    } else throw userError(`${rel}: only plain files and directories can be shipped`);
  }
  return out.sort();
}

function readSource(dir: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(join(dir, SOURCE_FILE), "utf8");
  } catch (err) {
    throw userError(
      `${join(dir, SOURCE_FILE)}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw userError(`${join(dir, SOURCE_FILE)}: not JSON (${(err as Error).message})`);
  }
}

/** The full manifest of a directory: module.json plus the files' hashes; validated as agents will. */
export function buildManifest(dir: string): { manifest: Manifest; files: Map<string, Buffer> } {
  const source = readSource(dir);
  if ("files" in source)
    throw userError(`${SOURCE_FILE}: files: is computed by sign, leave it out`);
  const files = new Map<string, Buffer>();
  const hashes: Record<string, { sha256: string; mode: number }> = {};
  for (const rel of listFiles(dir)) {
    const bytes = readFileSync(join(dir, rel));
    files.set(rel, bytes);
    hashes[rel] = { sha256: sha256Hex(bytes), mode: statSync(join(dir, rel)).mode & 0o777 };
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest({ ...source, files: hashes });
    // The checks as the agent will read them: a plugin the module ships is named by its path.
    parseChecks(
      manifest.checks.map((c, i) => {
        if (c.type !== "nagios" || typeof c.command !== "string" || c.command.startsWith("/"))
          return c;
        if (!(c.command in manifest.files))
          throw new ModuleError(`checks.${i}.command`, `${c.command} is not a file in ${dir}`);
        return { ...c, command: `/${c.command}` };
      }),
    );
  } catch (err) {
    throw userError(`${join(dir, SOURCE_FILE)}: ${(err as Error).message}`);
  }
  return { manifest, files };
}

export function sign(dir: string, keyFile: string): { manifest: Manifest; out: string } {
  const key = loadSigningKey(readFileSync(keyFile, "utf8"));
  const { manifest, files } = buildManifest(dir);
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const signature = { key: key.publicKey, value: signManifest(manifestBytes, key) };
  const element = moduleElement({ manifestBytes, files, signature, canary: 100 }, manifest);
  const out = join(dir, SIGNED_FILE);
  writeFileSync(out, `${element.toString()}\n`);
  return { manifest, out };
}

/** The signed item of a directory, refused if a file changed since it was signed. */
export function readSigned(dir: string): Element {
  let text: string;
  try {
    text = readFileSync(join(dir, SIGNED_FILE), "utf8");
  } catch {
    throw userError(`${join(dir, SIGNED_FILE)}: missing; run jabmon module sign ${dir} first`);
  }
  const element = ltx.parse(text) as Element;
  const bundle = decodeModule(element);
  const manifest = parseManifest(JSON.parse(bundle.manifestBytes.toString("utf8")));
  const now = buildManifest(dir).manifest;
  for (const [path, meta] of Object.entries(now.files))
    if (manifest.files[path]?.sha256 !== meta.sha256)
      throw userError(`${path}: changed since the module was signed; sign it again`);
  for (const path of Object.keys(manifest.files))
    if (!(path in now.files))
      throw userError(`${path}: removed since the module was signed; sign it again`);
  return element;
}

/** Set (or clear, at 100 %) the canary share of a module item. */
export function withCanary(element: Element, percent: number): Element {
  const copy = ltx.parse(element.toString()) as Element;
  copy.children = copy.children.filter(
    (c) => typeof c === "string" || (c as Element).name !== "rollout",
  );
  if (percent < 100) copy.cnode(new ltx.Element("rollout", { canary: String(percent) }));
  return copy;
}

// --- talking to the component ------------------------------------------------------

export interface PublisherLogin {
  service: string;
  jid: string;
  password: string;
  component: string;
  /** PEM CA certificates to trust besides the system's (a self-signed server). */
  caFile?: string;
}

export function loginFromEnv(env: NodeJS.ProcessEnv): PublisherLogin {
  const jid = env.JABMON_MODULE_JID;
  const password = env.JABMON_MODULE_PASSWORD;
  if (!jid || !/^[^@/\s]+@[^@/\s]+$/.test(jid))
    throw userError(
      "JABMON_MODULE_JID: is required: the publisher's bare JID (in the component's modules.publishers)",
    );
  if (!password) throw userError("JABMON_MODULE_PASSWORD: is required");
  return {
    service: env.JABMON_MODULE_SERVICE ?? env.JABMON_AGENT_SERVICE ?? "xmpp://127.0.0.1:5222",
    jid,
    password,
    component: env.JABMON_COMPONENT_JID ?? "monitor.localhost",
    caFile: env.JABMON_MODULE_CA_FILE ?? env.JABMON_AGENT_CA_FILE,
  };
}

export class ModuleClient {
  private constructor(
    readonly xmpp: Client,
    readonly component: string,
  ) {}

  static async connect(login: PublisherLogin): Promise<ModuleClient> {
    const [username, domain] = login.jid.split("@") as [string, string];
    const xmpp = createClient({
      service: login.service,
      domain,
      username,
      password: login.password,
      resource: `module-${process.pid}`,
      caFile: login.caFile,
    });
    xmpp.on("error", () => {});
    await xmpp.start();
    return new ModuleClient(xmpp, login.component);
  }

  async #iq(type: "get" | "set", payload: ReturnType<typeof xml>): Promise<Element> {
    try {
      return (await this.xmpp.iqCaller.request(
        xml("iq", { type, to: this.component }, payload),
        15_000,
      )) as unknown as Element;
    } catch (err) {
      const e = err as Error & { condition?: string; text?: string };
      throw userError(
        `the component refused: ${e.condition ?? e.message}${e.text ? ` (${e.text})` : ""}`,
      );
    }
  }

  async publish(element: Element): Promise<{ name: string; version: number; canary: number }> {
    const bundle = decodeModule(element);
    const item = xml("item", { id: moduleItemId(bundle.version) });
    item.children.push(ltx.parse(element.toString()) as never);
    await this.#iq(
      "set",
      xml("pubsub", { xmlns: NS_PUBSUB }, xml("publish", { node: moduleNode(bundle.name) }, item)),
    );
    return { name: bundle.name, version: bundle.version, canary: bundle.canary };
  }

  /** The module items of a node, oldest first. */
  async items(name: string): Promise<Element[]> {
    const reply = await this.#iq(
      "get",
      xml("pubsub", { xmlns: NS_PUBSUB }, xml("items", { node: moduleNode(name) })),
    );
    const items = reply.getChild("pubsub", NS_PUBSUB)?.getChild("items")?.getChildren("item") ?? [];
    return items
      .map((i) => ltx.parse(i.getChildElements()[0]?.toString() ?? "<none/>") as Element)
      .filter((e) => e.name === "module");
  }

  async current(name: string): Promise<Element> {
    const items = await this.items(name);
    const last = items.sort((a, b) => Number(a.attrs.version) - Number(b.attrs.version)).at(-1);
    if (!last)
      throw userError(`${name}: no such module (nothing published to ${moduleNode(name)})`);
    return last;
  }

  async index(): Promise<Element[]> {
    const reply = await this.#iq(
      "get",
      xml("pubsub", { xmlns: NS_PUBSUB }, xml("items", { node: MODULES_INDEX })),
    );
    return (reply.getChild("pubsub", NS_PUBSUB)?.getChild("items")?.getChildren("item") ?? [])
      .map((i) => i.getChild("module", NS_JABMON) as Element | undefined)
      .filter((e): e is Element => !!e && e.attrs.deleted !== "true");
  }

  async rpc(method: string, params: RpcValue[]): Promise<RpcValue> {
    const reply = await this.#iq("set", methodCallQuery(method, params) as never);
    const response = decodeMethodResponse(reply.getChild("query", NS_RPC) as never);
    if (!response.ok) throw userError(`${method}: ${response.message}`);
    return response.value;
  }

  stop(): Promise<unknown> {
    return this.xmpp.stop();
  }
}

/**
 * Roll back: the version before the current one is signed again as a new,
 * higher version (current + 1), because agents refuse going back to a lower
 * version (downgrade protection). Needs the signing key.
 */
export async function rollback(client: ModuleClient, name: string, keyFile: string) {
  const key = loadSigningKey(readFileSync(keyFile, "utf8"));
  const items = (await client.items(name)).sort(
    (a, b) => Number(a.attrs.version) - Number(b.attrs.version),
  );
  const current = items.at(-1);
  if (!current) throw userError(`${name}: no such module`);
  const currentVersion = Number(current.attrs.version);
  const currentDigest = sha256Hex(decodeModule(current).manifestBytes);
  // The latest earlier version that this key signed and that verifies whole
  // (signature and file hashes): never re-sign what someone else put there.
  const previous = [...items].reverse().find((i) => {
    if (Number(i.attrs.version) >= currentVersion) return false;
    try {
      return verifyModule(i, [key.publicKey], VERSION).digest !== currentDigest;
    } catch {
      return false;
    }
  });
  if (!previous) throw userError(`${name}: no earlier version signed by this key to roll back to`);
  const bundle = decodeModule(previous);
  const old = parseManifest(JSON.parse(bundle.manifestBytes.toString("utf8")));
  const manifest: Manifest = { ...old, version: currentVersion + 1 };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const element = moduleElement(
    {
      manifestBytes,
      files: bundle.files,
      signature: { key: key.publicKey, value: signManifest(manifestBytes, key) },
      canary: 100,
    },
    manifest,
  );
  await client.publish(element);
  return { from: Number(previous.attrs.version), version: manifest.version };
}

export { parseCanary };
