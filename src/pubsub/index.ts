/**
 * The XEP-0060 pubsub service of the component (docs/pubsub.md).
 */
export { NS_RSM } from "../protocol/index.js";
export type {
  NodeConfig,
  NodeRecord,
} from "./config.js";
export { PUBSUB_ERRORS, PubsubError, type PubsubErrorCode } from "./errors.js";
export { AGENT_NODE_PREFIX, ALERTPUBLISHERS, agentOwnerOf, validateNodeName } from "./names.js";
export type { PubsubHooks, PubsubOptions } from "./options.js";
export { type PubsubDeps, type PubsubService, pubsubService } from "./service.js";
export { type Affiliation, PubsubStore, type StoredItem, type Subscription } from "./store.js";
