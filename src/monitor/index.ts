export { type PresenceEvents, PresenceTracker, type PresenceTrackerOptions } from "./presence.js";
