/**
 * The XEP-0060 pubsub service of the component (docs/pubsub.md).
 */
export type {
  NodeConfig,
  NodeRecord,
} from "./config.js";
export { PUBSUB_ERRORS, PubsubError, type PubsubErrorCode } from "./errors.js";
export {
  AGENT_NODE_PREFIX,
  ALERTPUBLISHERS,
  agentOwnerOf,
  NS_RSM,
  type PubsubDeps,
  type PubsubOptions,
  type PubsubService,
  pubsubService,
  validateNodeName,
} from "./service.js";
export { type Affiliation, PubsubStore, type StoredItem, type Subscription } from "./store.js";
