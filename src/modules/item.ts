/**
 * The module item on the wire (docs/protocol.md, "Check modules"): one
 * `<module xmlns="urn:jabmon:0">` payload per item on the node
 * `modules/<name>`, item id `v<version>`:
 *
 *   <module xmlns="urn:jabmon:0" name="web-basics" version="7">
 *     <manifest>base64 of the manifest's JSON bytes</manifest>
 *     <file path="plugins/check_http">base64 of the file</file>
 *     <signature algorithm="ed25519" key="base64 raw public key">base64 signature</signature>
 *     <rollout canary="10"/>
 *   </module>
 *
 * `<rollout/>` is outside the signature: it says who installs a signed
 * version now, not what it is, so `promote` needs no new signature.
 */
import { createHash } from "node:crypto";
import { NS_JABMON } from "../protocol/index.js";
import { type Element, el } from "../xmpp/index.js";
import {
  compareVersions,
  isModuleFilePath,
  type Manifest,
  ModuleError,
  parseManifest,
} from "./manifest.js";
import { verifyManifest } from "./signature.js";

export const MODULE_NODE_PREFIX = "modules/";
/** The disco#info feature of a service that serves check modules. */
export const NS_MODULES = "urn:jabmon:0#modules";
/** The component's node listing every module node: one item per module, id = its name. */
export const MODULES_INDEX = "modules";

export const moduleNode = (name: string) => `${MODULE_NODE_PREFIX}${name}`;
export const moduleItemId = (version: number) => `v${version}`;

export interface ModuleBundle {
  /** The manifest's bytes, exactly as signed. */
  manifestBytes: Buffer;
  files: Map<string, Buffer>;
  signature?: { key: string; value: string };
  /** Percent of agents that install it now; 100 when absent. */
  canary: number;
}

export interface VerifiedModule {
  manifest: Manifest;
  files: Map<string, Buffer>;
  /** The key that signed it. */
  key: string;
  canary: number;
  /** SHA-256 (hex) of the manifest bytes: two items of one version are the same iff these match. */
  digest: string;
}

export const sha256Hex = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

export function moduleElement(bundle: ModuleBundle, manifest: Manifest): Element {
  const root = el("module", { xmlns: NS_JABMON, name: manifest.name, version: manifest.version });
  root.cnode(el("manifest", {}, bundle.manifestBytes.toString("base64")));
  for (const [path, bytes] of [...bundle.files].sort(([a], [b]) => a.localeCompare(b)))
    root.cnode(el("file", { path }, bytes.toString("base64")));
  if (bundle.signature)
    root.cnode(
      el("signature", { algorithm: "ed25519", key: bundle.signature.key }, bundle.signature.value),
    );
  if (bundle.canary < 100) root.cnode(el("rollout", { canary: String(bundle.canary) }));
  return root;
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function base64(text: string, field: string): Buffer {
  if (!BASE64.test(text)) throw new ModuleError(field, "is not base64");
  return Buffer.from(text, "base64");
}

export function parseCanary(text: string | undefined): number {
  if (text === undefined) return 100;
  const n = Number(text.trim().replace(/%$/, ""));
  if (!/^\d{1,3}(\.\d{1,2})?%?$/.test(text.trim()) || !(n > 0 && n <= 100))
    throw new ModuleError("rollout.canary", "must be a percentage above 0, at most 100");
  return n;
}

/** The parts of a `<module/>` payload, unverified. Throws ModuleError naming what is malformed. */
export function decodeModule(payload: Element): ModuleBundle & { name: string; version: number } {
  if (payload.name !== "module" || payload.attrs.xmlns !== NS_JABMON)
    throw new ModuleError("module", "the payload is not <module xmlns='urn:jabmon:0'/>");
  const manifestText = payload.getChildText("manifest");
  if (manifestText === null) throw new ModuleError("manifest", "is missing");
  const files = new Map<string, Buffer>();
  for (const file of payload.getChildren("file")) {
    const path = String(file.attrs.path ?? "");
    if (!isModuleFilePath(path)) throw new ModuleError("file", `bad path '${path.slice(0, 80)}'`);
    if (files.has(path)) throw new ModuleError(`file ${path}`, "appears twice");
    files.set(path, base64(file.getText(), `file ${path}`));
  }
  const sig = payload.getChild("signature");
  const bundle: ModuleBundle & { name: string; version: number } = {
    name: String(payload.attrs.name ?? ""),
    version: Number(payload.attrs.version),
    manifestBytes: base64(manifestText, "manifest"),
    files,
    canary: parseCanary(payload.getChild("rollout")?.attrs.canary),
  };
  if (sig) {
    if (sig.attrs.algorithm !== "ed25519")
      throw new ModuleError("signature", `unsupported algorithm ${String(sig.attrs.algorithm)}`);
    bundle.signature = { key: String(sig.attrs.key ?? ""), value: sig.getText().trim() };
  }
  return bundle;
}

/** Why a module is refused; docs/protocol.md lists each. */
export type RefusalReason =
  | "malformed"
  | "unsigned"
  | "unknown-key"
  | "bad-signature"
  | "hash-mismatch"
  | "downgrade"
  | "agent-too-old";

export class ModuleRefused extends Error {
  override name = "ModuleRefused";
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Verify a `<module/>` payload against trusted keys: signed by one of them,
 * every shipped file present with its manifest hash and no other file, the
 * attributes equal to the manifest, the agent new enough. Throws
 * ModuleRefused with the reason. (The downgrade check needs the running
 * version: see checkUpgrade.)
 */
export function verifyModule(
  payload: Element,
  trustedKeys: readonly string[],
  agentVersion: string,
): VerifiedModule {
  let bundle: ReturnType<typeof decodeModule>;
  let manifest: Manifest;
  try {
    bundle = decodeModule(payload);
  } catch (err) {
    throw new ModuleRefused("malformed", (err as Error).message);
  }
  if (!bundle.signature) throw new ModuleRefused("unsigned", "the module carries no signature");
  const { key, value } = bundle.signature;
  if (!trustedKeys.includes(key))
    throw new ModuleRefused(
      "unknown-key",
      `signed by a key not in trustedKeys (${key.slice(0, 12)}…)`,
    );
  let valid = false;
  try {
    valid = verifyManifest(bundle.manifestBytes, value, key);
  } catch {}
  if (!valid) throw new ModuleRefused("bad-signature", "the signature does not match the manifest");
  try {
    manifest = parseManifest(JSON.parse(bundle.manifestBytes.toString("utf8")));
  } catch (err) {
    throw new ModuleRefused("malformed", `manifest ${(err as Error).message}`);
  }
  if (manifest.name !== bundle.name || manifest.version !== bundle.version)
    throw new ModuleRefused(
      "malformed",
      `the item says ${bundle.name}@${bundle.version}, its signed manifest ${manifest.name}@${manifest.version}`,
    );
  for (const [path, meta] of Object.entries(manifest.files)) {
    const bytes = bundle.files.get(path);
    if (!bytes) throw new ModuleRefused("hash-mismatch", `file ${path} is missing`);
    if (sha256Hex(bytes) !== meta.sha256)
      throw new ModuleRefused("hash-mismatch", `file ${path} does not match its sha256`);
  }
  for (const path of bundle.files.keys())
    if (!(path in manifest.files))
      throw new ModuleRefused("hash-mismatch", `file ${path} is not in the signed manifest`);
  if (compareVersions(agentVersion, manifest.minAgentVersion) < 0)
    throw new ModuleRefused(
      "agent-too-old",
      `needs agent ${manifest.minAgentVersion}, this one is ${agentVersion}`,
    );
  return {
    manifest,
    files: bundle.files,
    key,
    canary: bundle.canary,
    digest: sha256Hex(bundle.manifestBytes),
  };
}

/**
 * Replay/downgrade protection against the version running (or last refused
 * as broken): a lower version is refused; the same version is a no-op when it
 * is the same manifest and refused when it is a different one.
 */
export function checkUpgrade(
  next: VerifiedModule,
  running: { version: number; digest: string } | undefined,
): "install" | "same" {
  if (!running) return "install";
  const v = next.manifest.version;
  if (v > running.version) return "install";
  if (v === running.version && next.digest === running.digest) return "same";
  throw new ModuleRefused(
    "downgrade",
    v === running.version
      ? `a different manifest for version ${v}, which already runs`
      : `version ${v} is older than version ${running.version}, which runs`,
  );
}
