/**
 * The host records' Lua scripts (hosts.ts), one file each in lua/ with its
 * KEYS and ARGV: one Redis state change is one script, so a change is atomic
 * and a single round trip. Named after BullMQ's convention, name-KEYCOUNT.
 */
import { luaScript } from "./lua.js";

export const RECORD_PRESENCE = luaScript(import.meta.url, "recordPresence-3");
export const MARK_OFFLINE = luaScript(import.meta.url, "markOffline-3");
export const MARK_STALE_OFFLINE = luaScript(import.meta.url, "markStaleOffline-3");
export const CLAIM_HOST_NAME = luaScript(import.meta.url, "claimHostName-2");
