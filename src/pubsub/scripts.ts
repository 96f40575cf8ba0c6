/**
 * The pubsub service's Lua scripts, one file each in lua/ (KEYS and ARGV in
 * each file's header): one state change is one script (atomic, one round
 * trip), named name-KEYCOUNT as BullMQ does. Negative returns are mapped to
 * errors by scriptError() in errors.ts:
 * -1 no node, -2 not allowed to publish, -3 outcast, -4 precondition not met,
 * -5 node exists, -6 no item, -7 not the item's publisher, -8 not subscribed,
 * -9 last owner, -10 node quota of the creator reached, -11 node has too many
 * subscriptions, -12 subscriber has too many subscriptions, -13 / -14 the node
 * owner's quota of stored items / bytes reached.
 *
 * Per-user set names are built from the prefix passed in ARGV with the same
 * patterns as Keys.psUserNodes / Keys.psUserSubs.
 *
 * Item records (data hash values) are "nodeSeq publishedAt publisherBareJid payloadXml".
 * lua/includes/ holds the functions several scripts share (expireItems,
 * trimItems, seqRanges, usage: the per-owner quota's accounting, kept by every
 * script that stores or removes items).
 */

import { AGENT_SEQ_REORDER_SPAN } from "../protocol/index.js";
import { luaScript } from "../store/index.js";

export const PUBLISH_ITEM = luaScript(import.meta.url, "publishItem-9", { AGENT_SEQ_REORDER_SPAN });
export const CREATE_NODE = luaScript(import.meta.url, "createNode-5");
export const CONFIGURE_NODE = luaScript(import.meta.url, "configureNode-4");
export const DELETE_NODE = luaScript(import.meta.url, "deleteNode-9");
export const PURGE_NODE = luaScript(import.meta.url, "purgeNode-4");
export const RETRACT_ITEM = luaScript(import.meta.url, "retractItem-5");
export const SET_SUBSCRIPTION = luaScript(import.meta.url, "setSubscription-4");
export const DECIDE_SUBSCRIPTION = luaScript(import.meta.url, "decideSubscription-4");
export const REMOVE_SUBSCRIPTION = luaScript(import.meta.url, "removeSubscription-4");
export const SET_AFFILIATION = luaScript(import.meta.url, "setAffiliation-4");
export const EXPIRE_ITEMS = luaScript(import.meta.url, "expireItems-3");
export const PAGE_IDS = luaScript(import.meta.url, "pageIds-1");
export const READ_ITEMS = luaScript(import.meta.url, "readItems-2");
export const INDEX_PLAIN_NODES = luaScript(import.meta.url, "indexPlainNodes-3");
