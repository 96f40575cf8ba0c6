/**
 * Check modules on the agent (docs/modules.md): the agent follows the
 * component's `modules` index node, fetches each module version it lacks,
 * verifies it (trusted Ed25519 key, file hashes, no downgrade, agent version),
 * keeps it on disk for disconnected starts and runs its checks on their own
 * scheduler, so a new version replaces the old one's checks without touching
 * the XMPP session or the configured checks.
 *
 * Each module reports itself as the check `module:<name>`: ok with the
 * version it runs, critical when a version is refused or rolled back (the
 * monitor alerts on that like on any check). Its checks are named
 * `<module>/<check>`.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { xml } from "@xmpp/client-core";
import type { Logger } from "../log/index.js";
// core.js, not index.js: index.ts also carries the component's side.
import {
  checkUpgrade,
  inCanary,
  MODULE_NAME,
  MODULES_INDEX,
  ModuleRefused,
  moduleItemId,
  moduleNode,
  NS_MODULES,
  targetMatches,
  type VerifiedModule,
  verifyModule,
} from "../modules/core.js";
import {
  type HostState,
  NS_DISCO_INFO,
  NS_JABMON,
  NS_PUBSUB,
  NS_PUBSUB_EVENT,
} from "../protocol/index.js";
import { VERSION } from "../version.js";
import { type Element, ltx, type XmppClient } from "../xmpp/index.js";
import { buildCheck, type Check, type CheckOutcome, scheduleChecks } from "./checks.js";
import { parseChecks } from "./config.js";

export interface ModuleRunnerOptions {
  xmpp: XmppClient;
  component: string;
  /** The agent's bare JID. */
  jid: string;
  host: string;
  cacheDir: string;
  log: Logger;
  intervalS: number;
  maxOutputBytes: number;
  /** A result of a module check, or of a module's own `module:<name>` status check. */
  onResult(outcome: CheckOutcome): void;
  /** The set of running modules or their checks changed (presence should say so). */
  onChange(): void;
}

export interface ModuleSettings {
  groups: string[];
  trustedKeys: string[];
}

interface Installed {
  version: number;
  digest: string;
  checks: Check[];
}

interface CacheState {
  current: number;
  previous?: number;
  /** A version refused as broken (its checks did not load): not tried again. */
  bad?: { version: number; digest: string };
}

/** Write a file so that a crash leaves the old one or the new one, never a part. */
function writeAtomic(path: string, data: Buffer | string, mode = 0o600): void {
  const tmp = `${path}.tmp-${randomBytes(4).toString("hex")}`;
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Every check of a module, built; throws (naming the field) when one cannot load. */
function buildModuleChecks(
  module: VerifiedModule,
  filesDir: string,
  defaults: { intervalS: number; maxOutputBytes: number },
): Check[] {
  const name = module.manifest.name;
  const defs = module.manifest.checks.map((def, i) => {
    const copy: Record<string, unknown> = { ...def };
    if (typeof copy.name === "string") copy.name = `${name}/${copy.name}`;
    // A plugin the module ships is named by its path in the module.
    if (
      copy.type === "nagios" &&
      typeof copy.command === "string" &&
      !copy.command.startsWith("/")
    ) {
      if (!(copy.command in module.manifest.files))
        throw new Error(`checks.${i}.command: ${copy.command} is not a file of the module`);
      copy.command = join(filesDir, copy.command);
    }
    return copy;
  });
  return parseChecks(defs).map((def) => buildCheck(def, defaults));
}

/** Bounds of the backoff between tries to read the modules index in one session. */
const INDEX_RETRY_MIN_MS = 5_000;
const INDEX_RETRY_MAX_MS = 300_000;

export class ModuleRunner {
  readonly #o: ModuleRunnerOptions;
  #settings: ModuleSettings;
  readonly #installed = new Map<string, Installed>();
  /** The latest verified item seen per module, installed or not (for re-targeting). */
  readonly #seen = new Map<string, { module: VerifiedModule; payload: Element }>();
  #scheduler: { stop(): void } | undefined;
  /** New versions on trial: their checks' first results decide whether they stay. */
  readonly #probation = new Map<
    string,
    { version: number; previous: number; pending: Set<string>; works: boolean; output: string }
  >();
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;
  #indexRetry: NodeJS.Timeout | undefined;
  #indexRetryMs = INDEX_RETRY_MIN_MS;

  constructor(options: ModuleRunnerOptions, settings: ModuleSettings) {
    this.#o = options;
    this.#settings = settings;
    try {
      mkdirSync(options.cacheDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      // Modules then run from memory only; the agent's own checks go on.
      options.log.error(
        { dir: options.cacheDir, err: (err as Error).message },
        "module cache unavailable",
      );
    }
    // xmpp.js's callee has get() as well as the set() the shared type names.
    const callee = options.xmpp.iqCallee as unknown as {
      get(ns: string, name: string, handler: () => unknown): void;
    };
    callee.get(NS_DISCO_INFO, "query", () => this.#discoInfo());
    options.xmpp.on("stanza", (stanza: Element) => this.#onStanza(stanza));
  }

  /** Modules running, as name@version (for presence). */
  list(): string[] {
    return [...this.#installed]
      .map(([name, m]) => `${name}@${m.version}`)
      .sort((a, b) => a.localeCompare(b));
  }

  get groups(): string[] {
    return this.#settings.groups;
  }

  checks(): Check[] {
    return [...this.#installed.values()].flatMap((m) => m.checks);
  }

  /** Run what the cache holds (at start, before any connection): re-verified with today's keys. */
  loadCache(): void {
    let names: string[] = [];
    try {
      names = readdirSync(this.#o.cacheDir);
    } catch {}
    for (const name of names) {
      if (!MODULE_NAME.test(name)) continue;
      const state = this.#readState(name);
      if (!state) continue;
      for (const version of [state.current, state.previous]) {
        if (!version) continue;
        try {
          const payload = ltx.parse(
            readFileSync(join(this.#versionDir(name, version), "module.xml"), "utf8"),
          ) as Element;
          const module = verifyModule(payload, this.#settings.trustedKeys, VERSION);
          this.#seen.set(name, { module, payload });
          if (!this.#matches(module)) break;
          this.#activate(module);
          this.#report(name, "ok", `${name} v${version} running from the cache`);
          break;
        } catch (err) {
          this.#o.log.warn(
            { module: name, version, err: (err as Error).message },
            "cached module unusable",
          );
        }
      }
    }
    this.#reschedule();
  }

  /** Groups or trusted keys changed (configuration reload): re-target what is known. */
  update(settings: ModuleSettings): void {
    this.#settings = settings;
    this.#enqueue(async () => {
      for (const [name, { module, payload }] of this.#seen) {
        if (!settings.trustedKeys.includes(module.key)) {
          this.#seen.delete(name);
          if (this.#installed.has(name))
            this.#uninstall(name, "its signing key is no longer trusted");
          continue;
        }
        if (this.#matches(module)) await this.#consider(module, payload);
        else if (this.#installed.has(name))
          this.#uninstall(name, "it no longer targets this agent");
      }
    });
  }

  /** A new session: subscribe to the index, then fetch every module version not held yet. */
  online(): void {
    clearTimeout(this.#indexRetry);
    this.#enqueue(async () => {
      const { xmpp, component, jid } = this.#o;
      try {
        // Found by disco: a component without check modules is left alone.
        const info = await xmpp.iqCaller.request(
          xml(
            "iq",
            { type: "get", to: component },
            xml("query", { xmlns: NS_DISCO_INFO }),
          ) as never,
        );
        const features = info.getChild("query", NS_DISCO_INFO)?.getChildren("feature") ?? [];
        if (!features.some((f) => f.attrs.var === NS_MODULES)) {
          this.#o.log.info({ component }, "the component serves no check modules");
          return;
        }
        await xmpp.iqCaller.request(
          xml(
            "iq",
            { type: "set", to: component },
            xml("pubsub", { xmlns: NS_PUBSUB }, xml("subscribe", { node: MODULES_INDEX, jid })),
          ) as never,
        );
        const reply = await xmpp.iqCaller.request(
          xml(
            "iq",
            { type: "get", to: component },
            xml("pubsub", { xmlns: NS_PUBSUB }, xml("items", { node: MODULES_INDEX })),
          ) as never,
        );
        const items =
          reply.getChild("pubsub", NS_PUBSUB)?.getChild("items")?.getChildren("item") ?? [];
        for (const item of items) await this.#onIndexEntry(item.getChild("module", NS_JABMON));
        this.#indexRetryMs = INDEX_RETRY_MIN_MS;
      } catch (err) {
        this.#o.log.warn(
          { err: (err as Error).message, retryInMs: this.#indexRetryMs },
          "cannot read the modules index",
        );
        this.#retryIndexLater();
      }
    });
  }

  /**
   * A refused or unanswered index read (a busy component, a quota) is tried
   * again in this session, backing off with jitter; before, the agent heard
   * of no module until its next session, which may be weeks away.
   */
  #retryIndexLater(): void {
    if (this.#stopped) return;
    const delay = this.#indexRetryMs * (0.5 + Math.random() / 2);
    this.#indexRetryMs = Math.min(INDEX_RETRY_MAX_MS, this.#indexRetryMs * 2);
    this.#indexRetry = setTimeout(() => {
      // Offline by then: the next session's online() reads the index anyway.
      if (this.#o.xmpp.status === "online") this.online();
    }, delay);
    this.#indexRetry.unref();
  }

  /** Settle what is in progress (tests, stop). */
  idle(): Promise<void> {
    return this.#queue;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#indexRetry);
    this.#scheduler?.stop();
  }

  // --- internals ---------------------------------------------------------------

  #enqueue(task: () => Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((err: Error) => {
      this.#o.log.error({ err: err.message }, "module task failed");
    });
  }

  #onStanza(stanza: Element): void {
    if (!stanza.is("message") || stanza.attrs.from !== this.#o.component) return;
    const items = stanza.getChild("event", NS_PUBSUB_EVENT)?.getChild("items");
    if (items?.attrs.node !== MODULES_INDEX) return;
    for (const item of items.getChildren("item")) {
      const entry = item.getChild("module", NS_JABMON);
      this.#enqueue(() => this.#onIndexEntry(entry));
    }
  }

  /** One entry of the index: fetch the version if it is not the one held, or uninstall a deleted module. */
  async #onIndexEntry(entry: Element | undefined): Promise<void> {
    if (!entry) return;
    const name = String(entry.attrs.name ?? "");
    if (!MODULE_NAME.test(name)) return;
    if (entry.attrs.deleted === "true") {
      this.#seen.delete(name);
      if (this.#installed.has(name)) this.#uninstall(name, "the module was deleted");
      return;
    }
    const version = Number(entry.attrs.version);
    const seen = this.#seen.get(name);
    const canary = Number(entry.attrs.canary ?? 100);
    // Only what changed is fetched: the index names each module's current version.
    if (seen && seen.module.manifest.version === version && seen.module.canary === canary) {
      if (this.#matches(seen.module)) await this.#consider(seen.module, seen.payload);
      return;
    }
    const payload = await this.#fetch(name, version);
    if (payload) await this.#receive(name, payload);
  }

  async #fetch(name: string, version: number): Promise<Element | undefined> {
    const { xmpp, component } = this.#o;
    try {
      const reply = await xmpp.iqCaller.request(
        xml(
          "iq",
          { type: "get", to: component },
          xml(
            "pubsub",
            { xmlns: NS_PUBSUB },
            xml("items", { node: moduleNode(name) }, xml("item", { id: moduleItemId(version) })),
          ),
        ) as never,
      );
      const item = reply.getChild("pubsub", NS_PUBSUB)?.getChild("items")?.getChild("item");
      return item?.getChildElements()[0] as Element | undefined;
    } catch (err) {
      this.#o.log.warn(
        { module: name, version, err: (err as Error).message },
        "cannot fetch a module",
      );
      return undefined;
    }
  }

  /** A module item from the server: verified, then installed if it is for us and new. */
  async #receive(name: string, payload: Element): Promise<void> {
    let module: VerifiedModule;
    try {
      module = verifyModule(payload, this.#settings.trustedKeys, VERSION);
      if (module.manifest.name !== name)
        throw new ModuleRefused("malformed", `the item is for ${module.manifest.name}`);
    } catch (err) {
      // Alert where it matters: an agent that runs the module or that the
      // (unverified) manifest claims to target. Others only log it.
      if (this.#installed.has(name) || this.#claimsUs(payload))
        this.#refuse(name, String(payload.attrs?.version ?? "?"), err as Error);
      else
        this.#o.log.warn(
          { module: name, err: (err as Error).message },
          "module refused (not for this agent)",
        );
      return;
    }
    this.#seen.set(name, { module, payload });
    if (!this.#matches(module)) {
      if (this.#installed.has(name)) this.#uninstall(name, "it no longer targets this agent");
      return;
    }
    await this.#consider(module, payload);
  }

  /** Whether an unverifiable item's manifest says it is for this agent (a hint for reporting only). */
  #claimsUs(payload: Element): boolean {
    try {
      const text = Buffer.from(payload.getChildText("manifest") ?? "", "base64").toString("utf8");
      const target = (JSON.parse(text) as { target?: { groups?: unknown; hosts?: unknown } })
        .target;
      const list = (v: unknown) =>
        Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
      return targetMatches(
        { groups: list(target?.groups), hosts: list(target?.hosts) },
        { jid: this.#o.jid, host: this.#o.host, groups: this.#settings.groups },
      );
    } catch {
      return false;
    }
  }

  #matches(module: VerifiedModule): boolean {
    return targetMatches(module.manifest.target, {
      jid: this.#o.jid,
      host: this.#o.host,
      groups: this.#settings.groups,
    });
  }

  /** Install a verified module for us, unless it is the same, older, held back by its canary, or known bad. */
  async #consider(module: VerifiedModule, payload: Element): Promise<void> {
    const { name, version } = module.manifest;
    const running = this.#installed.get(name);
    const state = this.#readState(name);
    try {
      if (checkUpgrade(module, running) === "same") return;
    } catch (err) {
      this.#refuse(name, String(version), err as Error);
      return;
    }
    if (state?.bad?.version === version && state.bad.digest === module.digest) return;
    if (module.canary < 100 && !inCanary(this.#o.jid, module.canary)) {
      this.#o.log.info(
        { module: name, version, canary: module.canary },
        "module version held back: not in its canary",
      );
      return;
    }
    const dir = this.#writeVersion(module, payload);
    let checks: Check[];
    try {
      checks = buildModuleChecks(module, join(dir, "files"), this.#o);
    } catch (err) {
      // Rolled back: the version before keeps running (it never stopped).
      this.#writeState(name, {
        ...(state ?? { current: running?.version ?? 0 }),
        bad: { version, digest: module.digest },
      });
      const kept = running ? `, v${running.version} keeps running` : "";
      this.#report(
        name,
        "critical",
        `${name} v${version} rolled back: its checks do not load (${(err as Error).message})${kept}`,
      );
      this.#o.log.error(
        { module: name, version, err: (err as Error).message },
        "module version rolled back",
      );
      return;
    }
    this.#installed.set(name, { version, digest: module.digest, checks });
    if (running && checks.length > 0)
      this.#probation.set(name, {
        version,
        previous: running.version,
        pending: new Set(checks.map((c) => c.name)),
        works: false,
        output: "",
      });
    this.#writeState(name, { current: version, previous: running?.version });
    this.#prune(name, [version, running?.version]);
    this.#reschedule();
    this.#report(name, "ok", `${name} v${version} running (${checks.length} checks)`);
    this.#o.log.info({ module: name, version, checks: checks.length }, "module version installed");
    this.#o.onChange();
  }

  #activate(module: VerifiedModule): void {
    const { name, version } = module.manifest;
    const checks = buildModuleChecks(
      module,
      join(this.#versionDir(name, version), "files"),
      this.#o,
    );
    this.#installed.set(name, { version, digest: module.digest, checks });
  }

  #uninstall(name: string, why: string): void {
    this.#installed.delete(name);
    rmSync(join(this.#o.cacheDir, name), { recursive: true, force: true });
    this.#reschedule();
    this.#o.log.info({ module: name, why }, "module removed");
    this.#report(name, "ok", `${name} removed: ${why}`);
    this.#o.onChange();
  }

  #refuse(name: string, version: string, err: Error): void {
    const reason = err instanceof ModuleRefused ? err.reason : "malformed";
    const running = this.#installed.get(name);
    const kept = running ? `; v${running.version} keeps running` : "";
    this.#o.log.warn({ module: name, version, reason, err: err.message }, "module refused");
    this.#report(
      name,
      "critical",
      `${name} v${version} refused (${reason}): ${err.message}${kept}`,
    );
  }

  #report(name: string, state: HostState, output: string): void {
    if (this.#stopped) return;
    this.#o.onResult({
      item: {
        kind: "check",
        name: `module:${name}`.slice(0, 64),
        state,
        output,
        durationMs: 0,
        metrics: [],
      },
      summary: output.slice(0, 120),
    });
  }

  #reschedule(): void {
    this.#scheduler?.stop();
    if (this.#stopped) return;
    this.#scheduler = scheduleChecks(this.checks(), (outcome) => {
      this.#o.onResult(outcome);
      this.#onTrialResult(outcome);
    });
  }

  /**
   * A version on trial whose every check is `unknown` at its first run (its
   * plugins cannot run, its collectors fail) is rolled back to the version
   * before it, which the cache still holds; that version is not tried again.
   */
  #onTrialResult(outcome: CheckOutcome): void {
    const name = outcome.item.name.split("/")[0] as string;
    const trial = this.#probation.get(name);
    if (!trial || !trial.pending.delete(outcome.item.name)) return;
    if (outcome.item.state !== "unknown") trial.works = true;
    else trial.output ||= outcome.item.output;
    if (trial.pending.size > 0) return;
    this.#probation.delete(name);
    if (!trial.works)
      this.#enqueue(async () => this.#rollBack(name, trial.version, trial.previous, trial.output));
  }

  async #rollBack(name: string, bad: number, previous: number, why: string): Promise<void> {
    const current = this.#installed.get(name);
    if (current?.version !== bad) return;
    try {
      const payload = ltx.parse(
        readFileSync(join(this.#versionDir(name, previous), "module.xml"), "utf8"),
      ) as Element;
      const module = verifyModule(payload, this.#settings.trustedKeys, VERSION);
      this.#activate(module);
      this.#writeState(name, { current: previous, bad: { version: bad, digest: current.digest } });
      this.#reschedule();
      this.#report(
        name,
        "critical",
        `${name} v${bad} rolled back: every check failed at its first run (${why.slice(0, 200)}); v${previous} runs again`,
      );
      this.#o.log.error(
        { module: name, version: bad, previous, why },
        "module version rolled back",
      );
      this.#o.onChange();
    } catch (err) {
      this.#o.log.error(
        { module: name, version: bad, err: (err as Error).message },
        "cannot roll back: the previous version is unusable",
      );
    }
  }

  #versionDir(name: string, version: number): string {
    return join(this.#o.cacheDir, name, `v${version}`);
  }

  /**
   * The verified item and its files under `<cache>/<name>/v<version>/`,
   * written in a temporary directory (each file fsynced), then renamed into
   * place and the parent fsynced: a crash leaves no half-written version.
   */
  #writeVersion(module: VerifiedModule, payload: Element): string {
    const { name, version } = module.manifest;
    const dir = this.#versionDir(name, version);
    if (existsSync(join(dir, "module.xml"))) return dir;
    const parent = join(this.#o.cacheDir, name);
    mkdirSync(parent, { recursive: true, mode: 0o700 });
    const tmp = `${dir}.tmp-${randomBytes(4).toString("hex")}`;
    for (const [path, bytes] of module.files) {
      const file = join(tmp, "files", path);
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const fd = openSync(file, "w", module.manifest.files[path]?.mode ?? 0o600);
      try {
        writeSync(fd, bytes);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    writeAtomic(join(tmp, "module.xml"), payload.toString());
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    fsyncDir(parent);
    return dir;
  }

  #readState(name: string): CacheState | undefined {
    try {
      return JSON.parse(
        readFileSync(join(this.#o.cacheDir, name, "state.json"), "utf8"),
      ) as CacheState;
    } catch {
      return undefined;
    }
  }

  #writeState(name: string, state: CacheState): void {
    mkdirSync(join(this.#o.cacheDir, name), { recursive: true, mode: 0o700 });
    writeAtomic(join(this.#o.cacheDir, name, "state.json"), JSON.stringify(state));
  }

  /** Keep the running version and the one before (for a restart's fallback); delete older ones. */
  #prune(name: string, keep: Array<number | undefined>): void {
    const wanted = new Set(keep.filter((v) => v !== undefined).map((v) => `v${v}`));
    for (const entry of readdirSync(join(this.#o.cacheDir, name)))
      if (/^v\d+$/.test(entry) && !wanted.has(entry))
        rmSync(join(this.#o.cacheDir, name, entry), { recursive: true, force: true });
  }

  /** XEP-0030 info about the agent, with its groups and modules in a XEP-0128 form. */
  #discoInfo() {
    const field = (name: string, values: string[]) =>
      xml("field", { var: name, type: "text-multi" }, ...values.map((v) => xml("value", {}, v)));
    return xml(
      "query",
      { xmlns: NS_DISCO_INFO },
      xml("identity", { category: "client", type: "bot", name: "jabmon agent" }),
      xml("feature", { var: NS_DISCO_INFO }),
      xml("feature", { var: NS_JABMON }),
      xml(
        "x",
        { xmlns: "jabber:x:data", type: "result" },
        xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, `${NS_JABMON}#agent`)),
        field("groups", this.#settings.groups),
        field("modules", this.list()),
        xml("field", { var: "version" }, xml("value", {}, VERSION)),
      ),
    );
  }
}
