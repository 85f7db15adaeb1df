import { create } from "@bufbuild/protobuf";
import { ERROR_CODES, isDeltaframeError } from "deltaframe";
import { HelloSchema, SyncMode } from "deltaframe/proto";
import {
  encodeResumeToken,
  InMemoryRetainedLog,
  InMemoryTokenStore,
  ServerSession,
  verifyResumeToken,
} from "deltaframe/session";
import { describe, expect, it } from "vitest";
import { msg } from "./frames.js";
import { SessionPair } from "./harness.js";
import { HmacTokenSigner, seededBytes, TestSource } from "./helpers.js";

function started(options: ConstructorParameters<typeof SessionPair>[0] = {}): SessionPair {
  const pair = new SessionPair(options);
  const src = pair.source;
  for (let i = 0; i < 10; i++) src.set(`k${i}`, `v${i}`);
  pair.client.subscribe("s", {}, pair.now);
  pair.run();
  pair.publish([src.set("k1", "w1"), src.event("e1")]);
  return pair;
}

describe("resume", () => {
  it("replays from the retained log: events exactly once, state converges, same session id", () => {
    const pair = started({ log: new InMemoryRetainedLog() });
    const src = pair.source;
    const firstId = pair.clientOf("welcome")[0]!.sessionId;
    pair.drop();
    pair.publish([src.set("k2", "w2"), src.event("e2"), src.remove("k3"), src.event("e3")]);
    pair.reconnect();
    pair.run();
    const welcome = pair.clientOf("welcome")[0]!;
    expect(welcome.resumed).toBe(true);
    expect(welcome.sessionId).toEqual(firstId);
    expect(pair.clientOf("subscribed")[0]!.mode).toBe(SyncMode.REPLAY);
    expect(pair.replica.events).toEqual(["e1", "e2", "e3"]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.replica.problems).toEqual([]);
    expect(pair.server.metrics.resumesServed).toBe(1);
  });

  it("a connection lost before its subscription was answered resumes from the earlier position", () => {
    const pair = started({ log: new InMemoryRetainedLog() });
    const src = pair.source;
    pair.drop();
    pair.publish([src.set("k2", "w2"), src.event("e2")]);
    pair.reconnect();
    pair.drop(); // before the hello, subscribe or their answers crossed the link
    pair.publish([src.event("e3")]);
    pair.reconnect();
    pair.run();
    expect(pair.clientOf("subscribed").at(-1)!.mode).toBe(SyncMode.REPLAY);
    expect(pair.replica.events).toEqual(["e1", "e2", "e3"]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    expect(pair.replica.problems).toEqual([]);
  });

  it("falls back to per-key catch-up when the log no longer covers the gap (never a silent gap)", () => {
    const pair = started({ log: new InMemoryRetainedLog({ maxEntriesPerStream: 2 }) });
    const src = pair.source;
    pair.drop();
    pair.publish([src.set("k2", "w2"), src.set("k4", "w4"), src.remove("k5"), src.set("n", "1")]);
    pair.reconnect();
    pair.run();
    expect(pair.clientOf("subscribed")[0]!.mode).toBe(SyncMode.CATCH_UP);
    const chunks = pair.clientOf("snapshot");
    expect(chunks.flatMap((c) => c.entries.map((e) => e.key)).sort()).toEqual(["k2", "k4", "n"]);
    expect(chunks.flatMap((c) => c.removed)).toEqual(["k5"]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
  });

  it("a key removed while away and created again is sent in full, not patched from the old version", () => {
    const pair = started({ client: { windowMessages: 1 } });
    const src = pair.source;
    pair.drop();
    pair.publish([src.remove("k3")]);
    pair.reconnect();
    pair.run();
    expect(pair.clientOf("subscribed")[0]!.mode).toBe(SyncMode.CATCH_UP);
    pair.stalled = true;
    pair.publish([src.set("k0", "z"), src.set("k3", "again"), src.set("k3", "again2")]);
    pair.stalled = false;
    pair.run();
    expect(pair.replica.problems).toEqual([]);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
  });

  it("replays only up to maxReplayEntries (at the limit), catches up one past it", () => {
    for (const [extra, mode] of [
      [4, SyncMode.REPLAY],
      [5, SyncMode.CATCH_UP],
    ] as const) {
      const pair = started({ log: new InMemoryRetainedLog(), server: { maxReplayEntries: 4 } });
      const src = pair.source;
      pair.drop();
      pair.publish(Array.from({ length: extra }, (_, i) => src.set(`k${i}`, `x${i}`)));
      pair.reconnect();
      pair.run();
      expect(pair.clientOf("subscribed")[0]!.mode).toBe(mode);
      expect(pair.replica.snapshot()).toEqual(src.snapshot());
    }
  });

  it("a new epoch voids the client's state: full snapshot", () => {
    const pair = started({ log: new InMemoryRetainedLog() });
    const src = pair.source;
    pair.drop();
    src.epoch = 2n;
    pair.reconnect();
    pair.run();
    expect(pair.clientOf("subscribed")[0]!.mode).toBe(SyncMode.SNAPSHOT);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
  });

  it("DF_ERR_RESUME_TOKEN_REUSED: a token serves one resume; two resumes with one token, one wins", () => {
    const pair = started();
    const state = pair.client.resumeState();
    pair.drop();
    pair.reconnect();
    pair.run();
    expect(pair.clientOf("welcome")[0]!.resumed).toBe(true);
    // The same token again (replayed or concurrent): refused.
    pair.open(state);
    pair.run();
    expect(pair.server.state).toBe("errored");
    expect(isDeltaframeError(pair.server.error, "DF_ERR_RESUME_TOKEN_REUSED")).toBe(true);
    expect(pair.clientOf("closed")[0]!.code).toBe(ERROR_CODES.DF_ERR_RESUME_TOKEN_REUSED.closeCode);
    expect(pair.server.metrics.resumesRefused).toBe(1);
  });

  it("DF_ERR_RESUME_TOKEN_INVALID: forged, truncated, or signed with a foreign key", () => {
    const good = started();
    const token = good.client.resumeState().token!;
    const forged = token.slice();
    forged[forged.length - 1]! ^= 1;
    const foreign = encodeResumeToken(
      { generation: 1, expiresAtMs: 1e15, sessionId: new Uint8Array(16) },
      new HmacTokenSigner(9, new Map([[9, new Uint8Array(32)]])),
    );
    const unknown = encodeResumeToken(
      { generation: 5, expiresAtMs: 1e15, sessionId: new Uint8Array(16) },
      good.signer,
    );
    for (const bad of [forged, token.subarray(0, 10), foreign, unknown]) {
      const pair = new SessionPair();
      pair.open({ token: bad, subscriptions: [] });
      pair.run();
      expect(isDeltaframeError(pair.server.error, "DF_ERR_RESUME_TOKEN_INVALID")).toBe(true);
      expect(pair.clientOf("closed")[0]!.code).toBe(4011);
    }
  });

  it("DF_ERR_RESUME_TOKEN_EXPIRED: a token past its lifetime (at the expiry and one before)", () => {
    const signer = new HmacTokenSigner(1, new Map([[1, new Uint8Array(32).fill(7)]]));
    const token = encodeResumeToken(
      { generation: 1, expiresAtMs: 5000, sessionId: new Uint8Array([1]) },
      signer,
    );
    expect(verifyResumeToken(token, signer, 4999).generation).toBe(1);
    let caught: unknown;
    try {
      verifyResumeToken(token, signer, 5000);
    } catch (error) {
      caught = error;
    }
    expect(isDeltaframeError(caught, "DF_ERR_RESUME_TOKEN_EXPIRED")).toBe(true);
    const tokens = new InMemoryTokenStore();
    tokens.issue("01", 1, 5000);
    const server = new ServerSession(
      { streams: () => undefined, randomBytes: seededBytes(1), signer, tokens },
      5000,
    );
    server.handleMessage(
      msg({
        case: "hello",
        value: create(HelloSchema, { versions: [1], capabilities: 8, resumeToken: token }),
      }),
      5000,
    );
    expect(server.error?.code).toBe("DF_ERR_RESUME_TOKEN_EXPIRED");
    expect(server.error?.closeCode).toBe(4013);
  });

  it("DF_ERR_RESUME_POSITION: a declared position beyond the stream", () => {
    const pair = started();
    const src = pair.source;
    const options = { policy: 0, maxBufferedEvents: 0, maxStalenessMs: 0, maxRateHz: 0 };
    const declare = (offset: bigint) => {
      const p = new SessionPair({ sources: new Map([["s", src]]) });
      p.open({
        token: undefined,
        subscriptions: [{ stream: "s", options, epoch: src.epoch, offset, held: [] }],
      });
      p.run();
      return p;
    };
    // Exactly the latest offset is fine: nothing to replay.
    const ok = declare(src.offset);
    expect(ok.server.state).toBe("open");
    expect(ok.clientOf("subscribed")[0]!.mode).toBe(SyncMode.REPLAY);
    // One past it is a violation.
    const beyond = declare(src.offset + 1n);
    expect(isDeltaframeError(beyond.server.error, "DF_ERR_RESUME_POSITION")).toBe(true);
    expect(beyond.server.error!.closeCode).toBe(4014);
    expect(beyond.clientOf("closed")[0]!.code).toBe(4014);
  });

  it("the token store forgets nothing it must remember: issue, consume once, unknown", () => {
    const store = new InMemoryTokenStore();
    store.issue("aa", 1, 100);
    expect(store.consume("aa", 2, 0)).toBe("unknown");
    expect(store.consume("aa", 1, 0)).toBe("ok");
    expect(store.consume("aa", 1, 0)).toBe("reused");
  });

  it("without a signer resume is not offered and a token is ignored", () => {
    const pair = new SessionPair({ resume: false, sources: new Map([["s", new TestSource()]]) });
    pair.run();
    const w = pair.clientOf("welcome")[0]!;
    expect(w.capabilities & 8).toBe(0);
    expect(w.resumed).toBe(false);
  });
});
