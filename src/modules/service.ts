/**
 * The component's side of check modules (docs/modules.md): a policy on the
 * pubsub service for the `modules/<name>` nodes and the `modules` index, the
 * audit list in Redis, and the RPC methods `modules.list`, `modules.audit`,
 * `modules.status`.
 *
 * - Only JIDs in `modules.publishers` may publish to `modules/<name>`; anyone
 *   else gets `<forbidden/>` and nothing is stored. A module node is created
 *   by its first publish, owned by the component (access open: every agent
 *   reads it; no last item on subscribe: agents fetch what they lack).
 * - A publish must be a well-formed `<module/>` whose name is the node's, with
 *   item id `v<version>`, and a version not below the node's current one
 *   (the latest item is the current version). When `modules.trustedKeys` is
 *   set the component also refuses what those keys did not sign; the agents
 *   verify regardless.
 * - Every accepted publish is recorded in the audit list and mirrored on the
 *   `modules` index node (one item per module, id = its name), which agents
 *   subscribe to in order to learn of new and deleted modules.
 */
import type { Logger } from "../log/index.js";
import { NS_JABMON } from "../protocol/index.js";
import { PubsubError, type PubsubErrorCode, type PubsubService } from "../pubsub/index.js";
import { RpcFault, type RpcService, type RpcStruct, type RpcValue } from "../rpc/index.js";
import type { HostStore, Keys, Redis } from "../store/index.js";
import { type Element, el, ltx } from "../xmpp/index.js";
import {
  decodeModule,
  MODULE_NAME,
  MODULE_NODE_PREFIX,
  MODULES_INDEX,
  ModuleError,
  moduleItemId,
  parseManifest,
  verifyManifest,
} from "./core.js";

export interface ModulesConfig {
  /** Bare JIDs that may publish modules. */
  publishers: string[];
  /** When not empty, the component refuses modules not signed by one of these keys. */
  trustedKeys: string[];
  /** Audit entries kept (newest first). */
  auditLength: number;
}

export interface ModuleServiceDeps {
  pubsub: PubsubService;
  redis: Redis;
  keys: Keys;
  hosts: HostStore;
  /** The component's JID (the only publisher of the index). */
  jid: string;
  log: Logger;
  config: ModulesConfig;
}

export interface AuditEntry {
  time: number;
  jid: string;
  action: "publish" | "promote" | "delete";
  name: string;
  version: number;
  canary: number;
  key: string;
}

export interface ModuleService {
  audit(name?: string, limit?: number): Promise<AuditEntry[]>;
  /** Every module: name, current version, canary, who published it and when. */
  list(): Promise<RpcStruct[]>;
  /** Which hosts run which version of a module. */
  status(name: string): Promise<RpcStruct>;
  registerRpc(service: RpcService): void;
  /** Create the `modules` index node unless it exists. */
  start(): Promise<void>;
}

const pubsubError = (code: PubsubErrorCode, text: string) => new PubsubError(code, text);
const forbidden = (text: string) => pubsubError("JABMON_ERR_FORBIDDEN", text);
const invalid = (text: string) => pubsubError("JABMON_ERR_INVALID_PAYLOAD", text);

/** Version and canary of a stored `<module/>` payload (for the index and the downgrade check). */
function summary(payload: Element) {
  return {
    version: Number(payload.attrs.version),
    canary: Number(payload.getChild("rollout")?.attrs.canary ?? 100),
    key: String(payload.getChild("signature")?.attrs.key ?? ""),
  };
}

export function moduleService(deps: ModuleServiceDeps): ModuleService {
  const { pubsub, redis, keys, hosts, log, config } = deps;
  const publishers = new Set(config.publishers.map((j) => j.toLowerCase()));
  const auditKey = `${keys.prefix}modules:audit`;
  /** The node's version before a publish in progress: the same version again is a promote. */
  const versionBefore = new Map<string, number | undefined>();

  async function currentOf(node: string) {
    const item = await pubsub.store.lastItem(node);
    return item ? summary(ltx.parse(item.payload) as Element) : undefined;
  }

  async function record(entry: AuditEntry) {
    await redis
      .multi()
      .lpush(auditKey, JSON.stringify(entry))
      .ltrim(auditKey, 0, config.auditLength - 1)
      .exec();
  }

  /** Structural checks a module publish must pass; the signature only when the component trusts keys. */
  function validate(node: string, itemId: string, payload: Element): void {
    let bundle: ReturnType<typeof decodeModule>;
    try {
      bundle = decodeModule(payload);
      const manifest = parseManifest(JSON.parse(bundle.manifestBytes.toString("utf8")));
      if (`${MODULE_NODE_PREFIX}${manifest.name}` !== node)
        throw new ModuleError("name", `the manifest is for ${manifest.name}, not ${node}`);
      if (bundle.name !== manifest.name || bundle.version !== manifest.version)
        throw new ModuleError("module", "name/version attributes differ from the manifest");
      if (itemId !== moduleItemId(manifest.version))
        throw new ModuleError("item", `the item id must be ${moduleItemId(manifest.version)}`);
    } catch (err) {
      throw invalid(
        err instanceof SyntaxError ? `manifest: not JSON (${err.message})` : (err as Error).message,
      );
    }
    if (config.trustedKeys.length > 0) {
      const sig = bundle.signature;
      let ok = false;
      try {
        ok =
          !!sig &&
          config.trustedKeys.includes(sig.key) &&
          verifyManifest(bundle.manifestBytes, sig.value, sig.key);
      } catch {}
      if (!ok) throw forbidden("the module is not signed by a key in modules.trustedKeys");
    }
  }

  pubsub.use({
    beforeCreate(node, bare) {
      if (node === MODULES_INDEX) throw pubsubError("JABMON_ERR_NODE_EXISTS", "reserved node name");
      if (node.startsWith(MODULE_NODE_PREFIX))
        throw forbidden(
          publishers.has(bare)
            ? "module nodes are created by their first publish"
            : "only modules.publishers may create module nodes",
        );
    },
    async beforePublish(node, bare, itemId, payload) {
      if (node === MODULES_INDEX) throw forbidden("the modules index is kept by the component");
      if (!node.startsWith(MODULE_NODE_PREFIX)) return;
      if (!publishers.has(bare)) throw forbidden("only modules.publishers may publish modules");
      if (!MODULE_NAME.test(node.slice(MODULE_NODE_PREFIX.length)))
        throw pubsubError("JABMON_ERR_INVALID_NODE_NAME", "module nodes are modules/<a-z0-9_.->");
      validate(node, itemId, payload);
      const current = await currentOf(node);
      const version = Number(payload.attrs.version);
      versionBefore.set(`${node} ${itemId}`, current?.version);
      if (current && version < current.version)
        throw invalid(`version ${version} is below the current version ${current.version}`);
      // The component owns the node; the publisher gets the publisher affiliation.
      if (
        await pubsub.ensureNode(node, {
          accessModel: "open",
          maxItems: 50,
          sendLastPublishedItem: "never",
        })
      )
        log.info({ node, by: bare }, "module node created");
      await pubsub.store.setAffiliation(node, bare, "publisher");
    },
    afterPublish(node, bare, itemId, payload) {
      if (!node.startsWith(MODULE_NODE_PREFIX)) return;
      const name = node.slice(MODULE_NODE_PREFIX.length);
      const s = summary(payload);
      const promote = versionBefore.get(`${node} ${itemId}`) === s.version;
      versionBefore.delete(`${node} ${itemId}`);
      void (async () => {
        await record({
          time: Date.now(),
          jid: bare,
          action: promote ? "promote" : "publish",
          name,
          ...s,
        });
        await pubsub.publish(
          MODULES_INDEX,
          el("module", {
            xmlns: NS_JABMON,
            name,
            version: s.version,
            canary: s.canary,
            item: moduleItemId(s.version),
          }),
          name,
        );
      })().catch((err: Error) =>
        log.warn({ err: err.message, node }, "cannot record a module publish"),
      );
    },
    afterDelete(node, bare) {
      if (!node.startsWith(MODULE_NODE_PREFIX)) return;
      const name = node.slice(MODULE_NODE_PREFIX.length);
      void (async () => {
        await record({
          time: Date.now(),
          jid: bare,
          action: "delete",
          name,
          version: 0,
          canary: 0,
          key: "",
        });
        // The index entry stays, marked deleted: its notification tells the agents.
        await pubsub.publish(
          MODULES_INDEX,
          el("module", { xmlns: NS_JABMON, name, deleted: "true" }),
          name,
        );
      })().catch((err: Error) =>
        log.warn({ err: err.message, node }, "cannot record a module delete"),
      );
    },
  });

  async function audit(name?: string, limit = 100): Promise<AuditEntry[]> {
    const raw = await redis.lrange(auditKey, 0, config.auditLength - 1);
    return raw
      .map((r) => JSON.parse(r) as AuditEntry)
      .filter((e) => !name || e.name === name)
      .slice(0, limit);
  }

  async function list(): Promise<RpcStruct[]> {
    const ids = await pubsub.store.idsByRank(MODULES_INDEX, 0, -1);
    const items = await pubsub.store.itemsByIds(MODULES_INDEX, ids);
    return items
      .filter((item) => !item.payload.includes('deleted="true"'))
      .map((item) => {
        const x = ltx.parse(item.payload) as Element;
        return {
          name: String(x.attrs.name),
          version: Number(x.attrs.version),
          canary: Number(x.attrs.canary ?? 100),
          publishedAt: new Date(item.publishedAt),
        } as RpcStruct;
      })
      .sort((a, b) => String(a.name).localeCompare(String(b.name)));
  }

  async function status(name: string): Promise<RpcStruct> {
    const versions = new Map<string, { online: number; offline: number }>();
    let none = 0;
    for (const host of await hosts.list()) {
      const running = (host.modules ?? []).find((m) => m.startsWith(`${name}@`));
      if (!running) {
        if (host.online) none++;
        continue;
      }
      const v = running.slice(name.length + 1);
      const entry = versions.get(v) ?? { online: 0, offline: 0 };
      entry[host.online ? "online" : "offline"]++;
      versions.set(v, entry);
    }
    const sorted = [...versions].sort(([a], [b]) => Number(b) - Number(a));
    const words = sorted.map(([v, n]) => {
      const parts = [
        n.online ? `${n.online.toLocaleString("en")} on v${v}` : "",
        n.offline ? `${n.offline.toLocaleString("en")} on v${v} (offline)` : "",
      ];
      return parts.filter(Boolean).join(", ");
    });
    const current = await currentOf(`${MODULE_NODE_PREFIX}${name}`);
    return {
      name,
      current: current?.version ?? 0,
      canary: current?.canary ?? 0,
      versions: sorted.map(([v, n]) => ({
        version: Number(v),
        online: n.online,
        offline: n.offline,
      })),
      without: none,
      text: words.length > 0 ? words.join(", ") : `no host runs ${name}`,
    };
  }

  const nameParam = (method: string, value: RpcValue | undefined): string => {
    const name = String(value ?? "");
    if (!MODULE_NAME.test(name))
      throw new RpcFault(
        "JABMON_RPC_BAD_PARAMS",
        `${method}: parameter 'name' (1) must be a module name`,
      );
    return name;
  };

  function registerRpc(service: RpcService) {
    service.method({
      name: "modules.list",
      access: "read",
      params: [],
      help: "Every check module with its current version and canary percentage.",
      handler: () => list(),
    });
    service.method({
      name: "modules.status",
      access: "read",
      params: [{ name: "name", type: "string" }],
      help: 'Which hosts run which version of a module ("9,870 on v7, 130 on v6 (offline)").',
      handler: ([name]) => status(nameParam("modules.status", name)),
    });
    service.method({
      name: "modules.audit",
      access: "read",
      params: [
        { name: "name", type: "string", optional: true },
        { name: "limit", type: "int", optional: true },
      ],
      help: "Who published, promoted or deleted which module version when, newest first.",
      handler: async ([name, limit]) =>
        (
          await audit(
            name === undefined ? undefined : nameParam("modules.audit", name),
            (limit as number | undefined) ?? 100,
          )
        ).map((e) => ({ ...e, time: new Date(e.time) }) as unknown as RpcStruct),
    });
  }

  async function start() {
    // Open to read and subscribe (every agent follows it); only the component publishes.
    await pubsub.ensureNode(MODULES_INDEX, {
      accessModel: "open",
      sendLastPublishedItem: "never",
      title: "check modules",
    });
  }

  return { audit, list, status, registerRpc, start };
}
