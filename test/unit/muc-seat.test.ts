import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Element, el, keepRoomSeat } from "../../src/xmpp/index.js";

const ROOM = "ops@conference.example";
const NS_MUC_USER = "http://jabber.org/protocol/muc#user";

const selfPresence = (...codes: string[]) =>
  el(
    "presence",
    { from: `${ROOM}/bot` },
    el("x", { xmlns: NS_MUC_USER }, ...codes.map((code) => el("status", { code }))),
  );
const refusal = (condition: string) =>
  el(
    "presence",
    { from: `${ROOM}/bot`, type: "error" },
    el(
      "error",
      { type: "cancel" },
      el(condition, { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }),
    ),
  );

function seatUnderTest() {
  const sent: Element[] = [];
  const joinedWith: string[][] = [];
  const log = { info: vi.fn(), warn: vi.fn() };
  const seat = keepRoomSeat({
    room: ROOM,
    nick: "bot",
    send: (stanza) => sent.push(stanza),
    log,
    answerTimeoutMs: 10_000,
    retryMinMs: 1_000,
    retryMaxMs: 4_000,
    onJoined: (codes) => joinedWith.push(codes),
  });
  return { seat, sent, joinedWith, log };
}

describe("keepRoomSeat", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("joins without history and reports the codes of our own presence once", () => {
    const { seat, sent, joinedWith } = seatUnderTest();
    seat.join();
    expect(sent).toHaveLength(1);
    expect(sent[0]?.attrs.to).toBe(`${ROOM}/bot`);
    expect(sent[0]?.getChild("x")?.getChild("history")?.attrs.maxstanzas).toBe("0");
    expect(seat.onPresence(selfPresence("110", "201"))).toBe(true);
    expect(seat.onPresence(selfPresence("110"))).toBe(true);
    expect(seat.joined).toBe(true);
    expect(joinedWith).toEqual([["110", "201"]]);
    vi.advanceTimersByTime(60_000);
    expect(sent).toHaveLength(1);
  });

  it("tries a refused join again with doubling delays, capped", () => {
    const { seat, sent, log } = seatUnderTest();
    seat.join();
    seat.onPresence(refusal("conflict"));
    expect(log.warn).toHaveBeenCalledWith(
      expect.objectContaining({ condition: "conflict", retryInMs: 1_000 }),
      "not in room, joining again later",
    );
    vi.advanceTimersByTime(999);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(2);
    seat.onPresence(refusal("conflict"));
    vi.advanceTimersByTime(2_000);
    expect(sent).toHaveLength(3);
    seat.onPresence(refusal("conflict"));
    seat.onPresence(refusal("conflict"));
    expect(log.warn).toHaveBeenLastCalledWith(
      expect.objectContaining({ retryInMs: 4_000 }),
      "not in room, joining again later",
    );
    seat.onPresence(selfPresence("110"));
    expect(seat.joined).toBe(true);
  });

  it("joins again when the room does not answer, or removes us later", () => {
    const { seat, sent } = seatUnderTest();
    seat.join();
    vi.advanceTimersByTime(10_000 + 1_000);
    expect(sent).toHaveLength(2);
    seat.onPresence(selfPresence("110"));
    seat.onPresence(el("presence", { from: `${ROOM}/bot`, type: "unavailable" }));
    expect(seat.joined).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(sent).toHaveLength(3);
  });

  it("ignores other occupants and sends nothing once stopped", () => {
    const { seat, sent } = seatUnderTest();
    expect(seat.onPresence(el("presence", { from: `${ROOM}/alice` }))).toBe(false);
    seat.join();
    seat.stop();
    vi.advanceTimersByTime(120_000);
    expect(sent).toHaveLength(1);
  });
});
