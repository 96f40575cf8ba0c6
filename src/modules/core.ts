/**
 * The pure part of signed check modules (docs/modules.md): the manifest, the `<module/>` item
 * codec, Ed25519 signing and verification, targeting and canary membership,
 * shared by the agent, the component and the CLI.
 * The agent imports this file, not index.ts: index.ts also carries the
 * component's side (Redis, pubsub, RPC), which the agent bundle must not.
 */
export {
  checkUpgrade,
  decodeModule,
  MODULE_NODE_PREFIX,
  MODULES_INDEX,
  type ModuleBundle,
  ModuleRefused,
  moduleElement,
  moduleItemId,
  moduleNode,
  NS_MODULES,
  parseCanary,
  type RefusalReason,
  sha256Hex,
  type VerifiedModule,
  verifyModule,
} from "./item.js";
export {
  compareVersions,
  GROUP_NAME,
  isModuleFilePath,
  type Manifest,
  MODULE_NAME,
  ModuleError,
  type ModuleFile,
  type ModuleTarget,
  parseManifest,
} from "./manifest.js";
export {
  generateSigningKey,
  importPublicKey,
  isPublicKey,
  type KeyPair,
  type LoadedSigningKey,
  loadSigningKey,
  SIGNATURE_CONTEXT,
  signManifest,
  verifyManifest,
} from "./signature.js";
export { type AgentIdentity, canaryBucket, inCanary, targetMatches } from "./target.js";
