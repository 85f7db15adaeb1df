/**
 * `Updates.first_offset` 0 means "the offset right after the last one the receiver saw on the live lane"
 * (docs/protocol.md §6.1): the sender omits it for runs that continue the lane and sends it after a gap.
 */
import { create } from "@bufbuild/protobuf";
import { ERROR_CODES, isDeltaframeError } from "deltaframe";
import { decodeBatch, encodeFrame } from "deltaframe/codec";
import {
  FrameSchema,
  SlowPolicy,
  SubscribedSchema,
  SyncMode,
  type Updates,
  UpdatesSchema,
} from "deltaframe/proto";
import { InMemoryRetainedLog } from "deltaframe/session";
import { describe, expect, it } from "vitest";
import { msg } from "./frames.js";
import { SessionPair } from "./harness.js";

const MAX_UINT64 = (1n << 64n) - 1n;

/** The Updates frames the server sent on this connection, in order. */
function sentUpdates(pair: SessionPair): Updates[] {
  const out: Updates[] = [];
  for (const m of pair.wire.s2c) {
    for (const f of decodeBatch(m)) if (f.body.case === "updates") out.push(f.body.value);
  }
  return out;
}

function subscribed(pair: SessionPair): void {
  pair.client.subscribe("s", {}, pair.now);
  pair.run();
}

describe("implicit first_offset", () => {
  it("runs that continue the lane omit first_offset (after the snapshot, updates and events)", () => {
    const pair = new SessionPair();
    const src = pair.source;
    pair.publish([src.set("a", "a0")]);
    subscribed(pair);
    const start = src.offset;
    pair.publish([src.set("a", "a1"), src.set("b", "b1")]);
    pair.publish([src.event("e1")]);
    pair.publish([src.set("b", "b2")]);
    pair.publish([src.set("a", "a2"), src.event("e2"), src.set("c", "c1")]);
    const updates = sentUpdates(pair);
    expect(updates.length).toBe(4);
    for (const u of updates) expect(u.firstOffset).toBe(0n);
    // Omitted on the wire: the frame is exactly the field's tag and varint shorter than with the explicit offset.
    const implicit = encodeFrame(create(FrameSchema, { body: { case: "updates", value: updates[3]! } }));
    const explicit = encodeFrame(
      create(FrameSchema, { body: { case: "updates", value: { ...updates[3]!, firstOffset: start + 5n } } }),
    );
    expect(explicit.length - implicit.length).toBe(2);
    expect(pair.clientOf("update").map((u) => u.version)).toEqual([
      start + 1n,
      start + 2n,
      start + 4n,
      start + 5n,
      start + 7n,
    ]);
    expect(pair.clientOf("event").map((e) => e.offset)).toEqual([start + 3n, start + 6n]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.replica.problems).toEqual([]);
  });

  it("after a conflation gap the offset is explicit, then implicit again", () => {
    const pair = new SessionPair({ client: { windowMessages: 2 } });
    const src = pair.source;
    src.set("a", "a0");
    subscribed(pair);
    pair.stalled = true;
    pair.publish([src.set("b", "b0"), src.set("c", "c0")]);
    pair.publish([src.set("a", "a1"), src.set("a", "a2"), src.set("a", "a3")]);
    pair.stalled = false;
    pair.run();
    pair.publish([src.set("b", "b1")]);
    const updates = sentUpdates(pair);
    // b0 and c0 continue the lane; a3 follows two folded changes (announced by Skipped); b1 continues again.
    expect(updates.map((u) => u.firstOffset)).toEqual([0n, src.offset - 1n, 0n]);
    expect(pair.clientOf("skipped").reduce((n, s) => n + s.conflatedUpdates, 0n)).toBe(2n);
    expect(pair.clientOf("update").map((u) => u.version)).toEqual([2n, 3n, 6n, 7n]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.replica.problems).toEqual([]);
  });

  it("a resync snapshot leaves the lane where it is; a replay starts it at the resume offset", () => {
    const log = new InMemoryRetainedLog();
    const pair = new SessionPair({ log });
    const src = pair.source;
    subscribed(pair);
    pair.publish([src.set("a", "a1")]);
    pair.client.resync("s", [], 3, pair.now);
    pair.run();
    pair.publish([src.set("a", "a2")]);
    expect(sentUpdates(pair).map((u) => u.firstOffset)).toEqual([0n, 0n]);
    pair.drop();
    pair.publish([src.set("b", "b1"), src.set("a", "a3")]);
    pair.reconnect();
    pair.run();
    expect(pair.clientOf("subscribed")[0]).toMatchObject({ offset: 2n });
    expect(sentUpdates(pair).map((u) => u.firstOffset)).toEqual([0n]);
    expect(pair.clientOf("update").map((u) => u.version)).toEqual([3n, 4n]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.replica.problems).toEqual([]);
  });

  it("a resync after skipped offsets keeps the offset explicit", () => {
    const pair = new SessionPair({ client: { windowMessages: 1 } });
    const src = pair.source;
    subscribed(pair);
    pair.stalled = true;
    pair.publish([src.set("x", "1")]);
    // Created and removed while stalled: both offsets are skipped, nothing is sent for them.
    pair.publish([src.set("t", "1"), src.remove("t")]);
    pair.stalled = false;
    pair.run();
    pair.client.resync("s", [], 3, pair.now);
    pair.run();
    pair.publish([src.set("a", "a1")]);
    expect(sentUpdates(pair).map((u) => u.firstOffset)).toEqual([0n, 4n]);
    expect(pair.clientOf("skipped").reduce((n, s) => n + s.conflatedUpdates, 0n)).toBe(2n);
    expect(pair.clientOf("update").map((u) => u.version)).toEqual([1n, 4n]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.replica.problems).toEqual([]);
  });

  it("the receiver takes first_offset 0 as its next expected offset, and rejects one past uint64", () => {
    const pair = new SessionPair();
    const src = pair.source;
    src.offset = MAX_UINT64 - 1n;
    subscribed(pair);
    pair.publish([src.set("a", "a1")]);
    expect(sentUpdates(pair).map((u) => u.firstOffset)).toEqual([0n]);
    expect(pair.clientOf("update").map((u) => u.version)).toEqual([MAX_UINT64]);
    pair.inject(
      "s2c",
      msg({
        case: "updates",
        value: create(UpdatesSchema, { alias: 1, firstOffset: 0n, keyIds: [1], sizes: [0] }),
      }),
    );
    expect(pair.client.state).toBe("errored");
    expect(isDeltaframeError(pair.client.error, "DF_ERR_SEQUENCE")).toBe(true);
    expect(pair.client.error!.closeCode).toBe(ERROR_CODES.DF_ERR_SEQUENCE.closeCode);
  });

  it("first_offset 0 before the lane starts (during the snapshot) is a protocol violation", () => {
    const pair = new SessionPair();
    // Once open, the server's own frames are dropped; the injected ones stand for its answer.
    pair.tap = (dir, bytes) => (dir === "s2c" && pair.client.state === "open" ? undefined : bytes);
    pair.run();
    subscribed(pair);
    const answer = create(SubscribedSchema, {
      stream: "s",
      alias: 1,
      epoch: 1n,
      offset: 0n,
      mode: SyncMode.SNAPSHOT,
      policy: SlowPolicy.CONFLATE,
    });
    pair.inject(
      "s2c",
      msg(
        { case: "subscribed", value: answer },
        {
          case: "updates",
          value: create(UpdatesSchema, {
            alias: 1,
            firstOffset: 0n,
            keyIds: [1],
            sizes: [0],
            bindings: [{ keyId: 1, key: "a" }],
          }),
        },
      ),
    );
    expect(pair.client.state).toBe("errored");
    expect(isDeltaframeError(pair.client.error, "DF_ERR_PROTOCOL")).toBe(true);
  });
});
