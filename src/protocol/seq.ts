/**
 * How far below an agent's highest `seq` a result still counts as overtaken
 * in flight (several publishes in flight, several component connections), not
 * as a replay: the pubsub service stores it, and the monitor records it
 * without setting its check back. docs/protocol.md, "Sequence numbers and replay".
 */
export const AGENT_SEQ_REORDER_SPAN = 1000;
