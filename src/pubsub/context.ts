/**
 * What every use case of the service works with, built once by
 * pubsubService(): handlers take it as their first argument instead of
 * sharing one closure.
 */
import type { ComponentLink, IqRequest } from "../component/index.js";
import type { Logger } from "../log/index.js";
import type { Keys } from "../store/index.js";
import type { Access } from "./authz.js";
import type { ConfigLimits } from "./config.js";
import type { Requester } from "./names.js";
import type { Notifier } from "./notify.js";
import type { PubsubHooks, PubsubOptions } from "./options.js";
import type { PubsubStore } from "./store.js";

export interface PubsubContext {
  readonly link: ComponentLink;
  readonly store: PubsubStore;
  readonly keys: Keys;
  readonly log: Logger;
  readonly options: PubsubOptions;
  /** The options' node limits, as the config forms read them. */
  readonly limits: ConfigLimits;
  readonly access: Access;
  readonly notifier: Notifier;
  /** Policy hooks added by PubsubService.use(). */
  readonly hooks: PubsubHooks[];
}

/** An IQ to the service with its sender as the service keys it (names.ts). */
export interface PubsubRequest extends IqRequest {
  readonly who: Requester;
}
