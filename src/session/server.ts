/**
 * The server side of a deltaframe connection, sans-IO.
 *
 * Theory of operation. Each subscription has a *live lane*: the stream's
 * changes and events in strictly increasing offset order. Every offset
 * published after the subscription's sync point is accounted exactly once:
 * sent, or counted in a `Skipped` notice (an update folded into a later one
 * of the same key, a change that became a no-op, a dropped event) that goes
 * out before any later message of that subscription. The client checks this
 * (no duplicate, no unannounced gap).
 *
 * Data (update entries, events, snapshot entries) is sent only within the
 * credit the client granted in messages and bytes (`Ack`, cumulative); a
 * message larger than the whole byte window may go when nothing is
 * outstanding, so a big value cannot deadlock. Control frames are never
 * held back. When credit runs out, keyed changes go to a per-key dirty map
 * (latest version only: memory O(keys)) and events to a bounded queue with
 * the subscription's slow policy. When credit returns, the lane resumes in
 * offset order: dirty keys by their latest version, merged with queued events,
 * each key sent as one change from the version the client holds to the latest.
 *
 * A sync (initial snapshot, catch-up, resync) pauses the live lane of its
 * subscription until `SnapshotEnd`; entries carry the keys' current values.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { type Deflater, defaultDeflater, maxReadableMessageBytes } from "../codec/index.js";
import { DeltaframeError, ERROR_CODES } from "../errors.js";
import {
  Capability,
  DrainSchema,
  EventSchema,
  type Frame,
  type Hello,
  SkippedSchema,
  SlowPolicy,
  SnapshotBeginSchema,
  SnapshotChunkSchema,
  SnapshotEndSchema,
  type SnapshotEntry,
  SnapshotEntrySchema,
  type Subscribe,
  SubscribedSchema,
  SyncMode,
  UnsubscribeSchema,
  WelcomeSchema,
} from "../gen/deltaframe/v1/frames_pb.js";
import { type Limits, resolveLimits } from "../limits.js";
import { SendWindow } from "./credit.js";
import { type CloseHint, checkNow, clipReason, Endpoint, utf8Bytes } from "./endpoint.js";
import { canFollow, follow, holdsBases, isFollowing, materialize, recordShared } from "./lockstep.js";
import { encodeResumeToken, sessionIdHex, verifyResumeToken } from "./resume.js";
import type { SharedBatch, SharedWire } from "./shared-batch.js";
import type { Dirty, Sub } from "./subscription.js";
import { SERVER_TRANSITIONS, type ServerState, type ServerTrigger } from "./transitions.js";
import type {
  ChangeKind,
  KeyChange,
  KeyedSource,
  PublishedChange,
  PublishedEvent,
  PublishItem,
  RetainedLog,
  ServerEvent,
  TokenSigner,
  TokenStore,
} from "./types.js";
import {
  bindingFrames,
  changeMessageBoundBytes,
  eventMessageBoundBytes,
  runBudgetBytes,
  UpdatesRun,
  updateBoundBytes,
} from "./updates-run.js";
import { frame } from "./wire.js";

/** Protocol versions this implementation speaks. */
export const SUPPORTED_VERSIONS: readonly number[] = [1];

/** Smallest `max_message_bytes` a peer may declare. */
export const MIN_MESSAGE_BYTES = 512;

/** Options of {@link ServerSession}. */
export interface ServerSessionOptions {
  /** Returns the keyed source of a stream, or undefined when the stream does not exist. Required. */
  streams: (stream: string) => KeyedSource | undefined;
  /** Returns `n` random bytes (session ids). Required; injected so the session stays deterministic. */
  randomBytes: (n: number) => Uint8Array;
  /** Capabilities offered (bitwise OR of `Capability`). Default HASH, plus RESUME when `signer` and `tokens` are set. */
  capabilities: number;
  /** Credentials must arrive (hello) and be decided (accept/reject) within this many ms. Default 10,000. */
  authTimeoutMs: number;
  /** Heartbeat interval announced and used, in ms. Default 15,000. */
  heartbeatMs: number;
  /** A silent peer is closed with 4008 after this many ms. Default 45,000. */
  idleTimeoutMs: number;
  /** Window applied when the client asks for 0, in messages. Default 1,024. */
  defaultWindowMessages: number;
  /** Largest window granted, in messages. Default 65,536. */
  maxWindowMessages: number;
  /** Window applied when the client asks for 0, in bytes. Default 1 MiB. */
  defaultWindowBytes: number;
  /** Largest window granted, in bytes. Default 16 MiB. */
  maxWindowBytes: number;
  /** Event buffer per subscription when the client asks for 0. Default 1,024. */
  defaultBufferedEvents: number;
  /** Largest event buffer per subscription. Default 65,536. */
  maxBufferedEvents: number;
  /** Most subscriptions per connection. Default 256. */
  maxSubscriptions: number;
  /** Snapshot chunks are cut after this many value bytes. Default 64 KiB. */
  snapshotChunkBytes: number;
  /** Bounds on what the client may send (docs/limits.md). */
  limits: Partial<Limits>;
  /** Signs resume tokens. Without it (or without `tokens`) resume is not offered. */
  signer: TokenSigner | undefined;
  /** Consumes resume tokens once. */
  tokens: TokenStore | undefined;
  /** Resume tokens expire after this many ms. Default 300,000. */
  tokenTtlMs: number;
  /** With CAPABILITY_DEFLATE in force, messages smaller than this go plain, in bytes. Default 256. */
  compressThresholdBytes: number;
  /** Compression implementation. Default the codec's (node:zlib on Node, fflate elsewhere). */
  deflater: Deflater | undefined;
  /** Frames per second a client may send on average (token bucket); beyond it DF_ERR_RATE_LIMITED. Default 1,000. */
  maxFramesPerSecond: number;
  /** Burst of frames allowed above the average rate. Default 4,096 (one full batch). */
  frameBurst: number;
  /** Retained log for replay on resume. Default none (catch-up or snapshot instead). */
  log: RetainedLog | undefined;
  /** Longest replay served from the log, in entries; longer gaps get a catch-up. Default 4,096. */
  maxReplayEntries: number;
}

/** Options of {@link ServerSession.accept}. */
export interface AcceptOptions {
  /** Session id to use for a fresh session (default: 16 random bytes). Ignored on resume. */
  sessionId: Uint8Array;
}

/** Options of {@link ServerSession.drain}. */
export interface DrainOptions {
  /** The server closes (1001) this many ms after the drain notice. Default 30,000. */
  deadlineMs: number;
  /** Reconnect no sooner than this, in ms. Default 0. */
  retryAfterMs: number;
  /** Spread reconnects over this window, in ms. Default 0. */
  jitterMs: number;
}

interface Run {
  sub: Sub;
  frame: UpdatesRun;
}

function resolveOptions(o: Partial<ServerSessionOptions>): ServerSessionOptions {
  if (typeof o.streams !== "function" || typeof o.randomBytes !== "function") {
    throw new DeltaframeError(
      "DF_ERR_INVALID_ARGUMENT",
      "cannot create server session: streams and randomBytes are required",
    );
  }
  const resume = o.signer !== undefined && o.tokens !== undefined;
  const out: ServerSessionOptions = {
    streams: o.streams,
    randomBytes: o.randomBytes,
    capabilities: o.capabilities ?? Capability.HASH | (resume ? Capability.RESUME : 0),
    authTimeoutMs: o.authTimeoutMs ?? 10_000,
    heartbeatMs: o.heartbeatMs ?? 15_000,
    idleTimeoutMs: o.idleTimeoutMs ?? 45_000,
    defaultWindowMessages: o.defaultWindowMessages ?? 1024,
    maxWindowMessages: o.maxWindowMessages ?? 65_536,
    defaultWindowBytes: o.defaultWindowBytes ?? 1 << 20,
    maxWindowBytes: o.maxWindowBytes ?? 16 << 20,
    defaultBufferedEvents: o.defaultBufferedEvents ?? 1024,
    maxBufferedEvents: o.maxBufferedEvents ?? 65_536,
    maxSubscriptions: o.maxSubscriptions ?? 256,
    snapshotChunkBytes: o.snapshotChunkBytes ?? 64 << 10,
    limits: o.limits ?? {},
    signer: o.signer,
    tokens: o.tokens,
    tokenTtlMs: o.tokenTtlMs ?? 300_000,
    log: o.log,
    compressThresholdBytes: o.compressThresholdBytes ?? 256,
    deflater: o.deflater,
    maxFramesPerSecond: o.maxFramesPerSecond ?? 1000,
    frameBurst: o.frameBurst ?? 4096,
    maxReplayEntries: o.maxReplayEntries ?? 4096,
  };
  for (const name of [
    "authTimeoutMs",
    "heartbeatMs",
    "idleTimeoutMs",
    "defaultWindowMessages",
    "maxWindowMessages",
    "defaultWindowBytes",
    "maxWindowBytes",
    "defaultBufferedEvents",
    "maxBufferedEvents",
    "maxSubscriptions",
    "snapshotChunkBytes",
    "tokenTtlMs",
    "maxReplayEntries",
    "maxFramesPerSecond",
    "frameBurst",
    "compressThresholdBytes",
  ] as const) {
    const v = out[name];
    if (!Number.isSafeInteger(v) || v <= 0 || v > 0xffffffff) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        `cannot create server session: ${name} must be a positive uint32`,
        {
          [name]: v,
        },
      );
    }
  }
  return out;
}

/**
 * One connection's server-side protocol state. Feed it transport messages
 * (`handleMessage`) and time (`handleTimeout`); drain `pollTransmit`,
 * `pollEvent`, `pollTimeout`. It does no I/O. See the module comment for the
 * flow-control invariants and docs/sessions.md for the state machine.
 */
export class ServerSession extends Endpoint<ServerState, ServerTrigger, ServerEvent> {
  private readonly opts: ServerSessionOptions;
  private readonly authDeadline: number;
  private hello: Hello | undefined;
  private version = 0;
  private capabilities = 0;
  private resumeOf: { sessionId: Uint8Array; generation: number } | undefined;
  private sessionId: Uint8Array = new Uint8Array(0);
  private credit = new SendWindow(0, 0);
  private stalled = false;
  private readonly subs = new Map<number, Sub>();
  private readonly byStream = new Map<string, Sub>();
  private nextAlias = 1;
  private rotate = 0;
  private run: Run | undefined;
  private drainDeadline: number | undefined;
  private bucket: number;
  private bucketAt: number;
  private drainHint: CloseHint = { retryAfterMs: 0, jitterMs: 0 };

  /**
   * Creates a session for a new connection at time `now` (ms). The client's
   * hello must arrive and be accepted within `authTimeoutMs`.
   * Throws DF_ERR_INVALID_ARGUMENT for missing or invalid options, DF_ERR_LIMIT_INVALID for bad limits.
   */
  constructor(options: Partial<ServerSessionOptions>, now: number) {
    const opts = resolveOptions(options);
    checkNow(now, "create server session");
    super("awaiting-hello", SERVER_TRANSITIONS, resolveLimits(opts.limits));
    this.opts = opts;
    this.now = now;
    this.lastReceivedAt = now;
    this.lastSentAt = now;
    this.authDeadline = now + opts.authTimeoutMs;
    this.bucket = opts.frameBurst;
    this.bucketAt = now;
  }

  /** The negotiated capabilities (0 before accept). */
  get negotiatedCapabilities(): number {
    return this.capabilities;
  }

  /** Number of live subscriptions. */
  get subscriptionCount(): number {
    return this.subs.size;
  }

  /**
   * Returns, per live subscription, what the session holds for it now: keys
   * waiting for credit (dirty), events queued, keys whose held version it
   * tracks, and whether it follows its source's lockstep view (then the held
   * versions are the view's, shared with every session that follows it, and
   * the subscription keeps no per-key state of its own). For bounded-memory
   * checks and monitoring.
   */
  queueSizes(): Array<{
    stream: string;
    dirtyKeys: number;
    queuedEvents: number;
    heldKeys: number;
    followsView: boolean;
  }> {
    return [...this.subs.values()].map((s) => ({
      stream: s.stream,
      dirtyKeys: s.dirty.size,
      queuedEvents: s.events.length - s.eventsHead,
      heldKeys: s.view !== undefined ? s.view.versions.size : s.held.size,
      followsView: s.view !== undefined,
    }));
  }

  /**
   * Accepts the client after an "authenticate" event: sends Welcome with the
   * negotiated values and, when resume is in force, a fresh single-use token.
   * Throws DF_ERR_INVALID_STATE unless authenticating.
   */
  accept(options: Partial<AcceptOptions>, now: number): void {
    checkNow(now, "accept");
    const hello = this.hello;
    if (this._state !== "authenticating" || hello === undefined) {
      throw new DeltaframeError("DF_ERR_INVALID_STATE", `cannot accept: session is ${this._state}`, {
        state: this._state,
      });
    }
    let sessionId = this.resumeOf?.sessionId ?? options.sessionId ?? this.opts.randomBytes(16);
    if (sessionId.length === 0 || sessionId.length > 64) {
      throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot accept: session id must be 1–64 bytes", {
        bytes: sessionId.length,
      });
    }
    sessionId = sessionId.slice();
    this.tick(now);
    this.move("accept", "accept");
    this.sessionId = sessionId;
    const ask = (v: number, def: number, max: number) => Math.min(v === 0 ? def : v, max);
    this.credit = new SendWindow(
      ask(hello.windowMessages, this.opts.defaultWindowMessages, this.opts.maxWindowMessages),
      ask(hello.windowBytes, this.opts.defaultWindowBytes, this.opts.maxWindowBytes),
      this.opts.maxWindowMessages,
      this.opts.maxWindowBytes,
    );
    this.sendMaxBytes = Math.min(
      hello.maxMessageBytes === 0 ? this.limits.maxMessageBytes : hello.maxMessageBytes,
      this.limits.maxMessageBytes,
    );
    let resumeToken: Uint8Array = new Uint8Array(0);
    if ((this.capabilities & Capability.RESUME) !== 0 && this.opts.signer && this.opts.tokens) {
      const generation = (this.resumeOf?.generation ?? 0) + 1;
      const expiresAtMs = now + this.opts.tokenTtlMs;
      resumeToken = encodeResumeToken({ generation, expiresAtMs, sessionId }, this.opts.signer);
      this.opts.tokens.issue(sessionIdHex(sessionId), generation, expiresAtMs);
    }
    if (this.resumeOf !== undefined) this.metrics.resumesServed++;
    this.heartbeatMs = this.opts.heartbeatMs;
    this.idleTimeoutMs = this.opts.idleTimeoutMs;
    if ((this.capabilities & Capability.DEFLATE) !== 0) {
      // The welcome itself is never compressed (the codec refuses to compress a hello or welcome).
      this.compression = {
        enabled: true,
        thresholdBytes: this.opts.compressThresholdBytes,
        deflater: this.opts.deflater,
      };
    }
    this.queue(
      frame({
        case: "welcome",
        value: create(WelcomeSchema, {
          version: this.version,
          capabilities: this.capabilities,
          sessionId,
          resumeToken,
          heartbeatMs: this.opts.heartbeatMs,
          idleTimeoutMs: this.opts.idleTimeoutMs,
          windowMessages: this.credit.windowMessages,
          windowBytes: this.credit.windowBytes,
          // A uint32 on the wire: an unlimited (Infinity) limit is announced as the largest value.
          maxMessageBytes: Math.min(this.receiveMaxBytes(), 0xffff_ffff),
          dictionary: 0,
          resumed: this.resumeOf !== undefined,
        }),
      }),
    );
    this.lastReceivedAt = now;
    this.lastSentAt = now;
  }

  /**
   * The largest message this side reads, as announced in Welcome: the
   * `maxMessageBytes` limit, lowered — when compression is in force — to what
   * the deflater can inflate (fflate: 65,029 bytes by default), so that the
   * client never sends compressed data this side refuses.
   */
  private receiveMaxBytes(): number {
    if (!this.compression.enabled) return this.limits.maxMessageBytes;
    const readable = maxReadableMessageBytes(this.opts.deflater ?? defaultDeflater());
    return Math.max(MIN_MESSAGE_BYTES, Math.min(this.limits.maxMessageBytes, readable));
  }

  /**
   * Rejects the client after an "authenticate" event: sends Close with `code`
   * (default 4003) and moves to closed. Throws DF_ERR_INVALID_STATE unless
   * authenticating, DF_ERR_INVALID_ARGUMENT for a bad code or a reason over 123 bytes.
   */
  reject(code: number, reason: string, now: number): void {
    checkNow(now, "reject");
    if (this._state !== "authenticating") {
      throw new DeltaframeError("DF_ERR_INVALID_STATE", `cannot reject: session is ${this._state}`, {
        state: this._state,
      });
    }
    this.tick(now);
    this.closeLocal(code, reason, {}, "reject", "reject");
  }

  /**
   * Closes the connection with `code` and `reason` and an optional reconnect
   * hint; queued frames go first. Throws DF_ERR_INVALID_STATE once closed,
   * DF_ERR_INVALID_ARGUMENT for a bad code, reason or hint.
   */
  close(code: number, reason: string, now: number, hint: Partial<CloseHint> = {}): void {
    checkNow(now, "close");
    this.tick(now);
    this.closeLocal(code, reason, hint, "close", "close");
  }

  /**
   * Announces that the server goes away: sends Drain, keeps serving, and
   * closes with 1001 (and the hint) at the deadline. Throws
   * DF_ERR_INVALID_STATE unless open, DF_ERR_INVALID_ARGUMENT for bad values.
   */
  drain(options: Partial<DrainOptions>, now: number): void {
    checkNow(now, "drain");
    const deadlineMs = options.deadlineMs ?? 30_000;
    const retryAfterMs = options.retryAfterMs ?? 0;
    const jitterMs = options.jitterMs ?? 0;
    for (const [name, v] of [
      ["deadlineMs", deadlineMs],
      ["retryAfterMs", retryAfterMs],
      ["jitterMs", jitterMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) {
        throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", `cannot drain: ${name} must be a uint32`, {
          [name]: v,
        });
      }
    }
    if (this._state !== "open") {
      throw new DeltaframeError("DF_ERR_INVALID_STATE", `cannot drain: session is ${this._state}`, {
        state: this._state,
      });
    }
    this.tick(now);
    this.move("drain", "drain");
    this.drainDeadline = now + deadlineMs;
    this.drainHint = { retryAfterMs, jitterMs };
    this.queue(frame({ case: "drain", value: create(DrainSchema, { deadlineMs, retryAfterMs, jitterMs }) }));
  }

  /**
   * Publishes changes and events of `stream`, in offset order. Each
   * subscription to the stream gets them now when it has credit, or later
   * (conflated per key; events queued under its slow policy). Items at or
   * below an offset the subscription already covers are ignored. A no-op
   * when nothing subscribes to the stream.
   * Throws DF_ERR_INVALID_ARGUMENT (state unchanged) when offsets are not
   * consecutive after the subscription's last published offset, or a change
   * is malformed.
   */
  publish(stream: string, items: readonly PublishItem[], now: number): void {
    checkNow(now, "publish");
    const sub = this.byStream.get(stream);
    if (sub === undefined || this.isClosed) return;
    materialize(sub);
    let expected = sub.lastPublished + 1n;
    for (const item of items) {
      if (item.offset < expected) continue;
      if (item.offset !== expected) {
        throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot publish: offsets must be consecutive", {
          stream,
          expected,
          offset: item.offset,
        });
      }
      if (item.type === "change") {
        if (item.kind === "patch" && item.base !== undefined && item.base >= item.offset) {
          throw new DeltaframeError(
            "DF_ERR_INVALID_ARGUMENT",
            "cannot publish: patch base must precede its offset",
            {
              key: item.key,
              base: item.base,
              offset: item.offset,
            },
          );
        }
        if (item.kind === "remove" && item.body.length !== 0) {
          throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot publish: a removal has no body", {
            key: item.key,
          });
        }
      } else if (item.type !== "event") {
        throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot publish: unknown item type");
      }
      expected++;
    }
    this.tick(now);
    for (const item of items) {
      if (this.isClosed || !this.subs.has(sub.alias)) break;
      if (item.offset <= sub.lastPublished) continue;
      sub.lastPublished = item.offset;
      this.enqueue(sub, item, now);
    }
    this.flush(now, sub);
  }

  /**
   * Publishes a batch that a fan-out source encoded once for many sessions
   * (see {@link SharedBatch}): when this session is in lockstep with the
   * stream and its credit covers the whole batch, it queues the batch's
   * shared transport messages as they are and does only its own accounting;
   * otherwise it publishes `batch.items` as {@link publish} does. A no-op
   * when nothing subscribes to the stream. Throws as {@link publish}.
   */
  publishBatch(batch: SharedBatch, now: number): void {
    checkNow(now, "publish");
    const sub = this.byStream.get(batch.stream);
    if (sub === undefined || this.isClosed) return;
    this.tick(now);
    if (!this.takeShared(sub, batch)) this.publish(batch.stream, batch.items, now);
  }

  /** Queues the shared messages of `batch` if they are exactly what this session would send (shared-batch.ts). */
  private takeShared(sub: Sub, batch: SharedBatch): boolean {
    if (
      batch.source !== sub.source ||
      !this.isLive() ||
      sub.lastPublished !== batch.firstOffset - 1n ||
      sub.seen !== sub.lastPublished ||
      !this.idle(sub) ||
      sub.skipConflated !== 0 ||
      sub.skipDropped !== 0 ||
      sub.minIntervalMs !== 0 ||
      // Every item within the window (framing itself, the session would stop at the first that is not).
      !this.credit.canSendAll(batch.payloadBytes, batch.messageCount) ||
      // An item too large for this client's messages: framing itself, the session ends the subscription (fits).
      batch.largestMessageBoundBytes > this.sendMaxBytes
    ) {
      return false;
    }
    const wire: SharedWire = {
      alias: sub.alias,
      hashes: (this.capabilities & Capability.HASH) !== 0,
      maxMessageBytes: this.sendMaxBytes,
      maxFramesPerBatch: this.limits.maxFramesPerBatch,
      compression: this.compression,
    };
    // No encoding for these settings (too many distinct ones): checked before any per-key work.
    if (!batch.canEncodeFor(wire)) return false;
    const view = batch.view;
    // Following the view, the client holds exactly its versions: nothing to check key by key.
    const following = isFollowing(sub, view);
    let join = false;
    if (!following) {
      materialize(sub);
      join = view !== undefined && canFollow(sub, view);
      if (!join && !holdsBases(sub, batch)) return false;
    }
    const messages = batch.messagesFor(wire)!;
    if (following || join) {
      if (join)
        for (const f of bindingFrames(sub.alias, follow(sub, view!), this.sendMaxBytes)) this.queue(f);
      sub.viewBatch = batch;
    } else {
      recordShared(sub, batch);
    }
    this.closeRun();
    this.credit.charge(batch.payloadBytes, batch.messageCount);
    this.metrics.dataOut += batch.messageCount;
    sub.lastPublished = batch.lastOffset;
    sub.seen = batch.lastOffset;
    for (const m of messages) this.outbox.push(m);
    batch.metrics.deliveries++;
    return true;
  }

  // --- frames from the client ---------------------------------------------

  protected onFrame(f: Frame, now: number): void {
    this.bucket = Math.min(
      this.opts.frameBurst,
      this.bucket + ((now - this.bucketAt) * this.opts.maxFramesPerSecond) / 1000,
    );
    this.bucketAt = now;
    if (this.bucket < 1) {
      throw new DeltaframeError("DF_ERR_RATE_LIMITED", "cannot handle frame: client exceeds its frame rate", {
        maxFramesPerSecond: this.opts.maxFramesPerSecond,
      });
    }
    this.bucket -= 1;
    const body = f.body;
    switch (body.case) {
      case "hello":
        this.onHello(body.value, now);
        return;
      case "close":
        this.peerClosed(body.value.code, body.value.reason, body.value.retryAfterMs, body.value.jitterMs);
        return;
      case "ping":
        if (this._state === "awaiting-hello") break;
        this.onPing(body.value.id, body.value.timeMs, now);
        return;
      case "pong":
        if (this._state === "awaiting-hello") break;
        this.onPong(body.value.id, body.value.pingTimeMs, body.value.timeMs, now);
        return;
      case "ack":
        if (!this.isLive()) break;
        this.onAck(body.value.messages, body.value.bytes, body.value.windowMessages, body.value.windowBytes);
        return;
      case "subscribe":
        if (!this.isLive()) break;
        this.onSubscribe(body.value, now);
        return;
      case "unsubscribe":
        if (!this.isLive()) break;
        this.onUnsubscribe(body.value.alias);
        return;
      case "resync":
        if (!this.isLive()) break;
        this.onResync(body.value.alias, body.value.keys, body.value.reason);
        return;
      default:
        break;
    }
    throw new DeltaframeError("DF_ERR_PROTOCOL", `cannot handle frame: unexpected ${body.case} from client`, {
      frame: body.case,
      state: this._state,
    });
  }

  private isLive(): boolean {
    return this._state === "open" || this._state === "draining";
  }

  private onHello(hello: Hello, now: number): void {
    if (this._state !== "awaiting-hello") {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle hello: already received", {
        state: this._state,
      });
    }
    const version = hello.versions.find((v) => SUPPORTED_VERSIONS.includes(v));
    if (version === undefined) {
      throw new DeltaframeError(
        "DF_ERR_VERSION_UNSUPPORTED",
        "cannot handle hello: no common protocol version",
        {
          offered: [...hello.versions],
        },
      );
    }
    if (utf8Bytes(hello.agent) > 64) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle hello: agent over 64 bytes");
    }
    if (hello.maxMessageBytes !== 0 && hello.maxMessageBytes < MIN_MESSAGE_BYTES) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle hello: max_message_bytes below 512", {
        maxMessageBytes: hello.maxMessageBytes,
      });
    }
    const known = Capability.DEFLATE | Capability.DICTIONARY | Capability.HASH | Capability.RESUME;
    // Per-message deflate is applied here when both offer it; shared dictionaries are not (yet) negotiated by the session.
    const capabilities = hello.capabilities & this.opts.capabilities & known & ~Capability.DICTIONARY;
    let resume: { sessionId: Uint8Array; generation: number } | undefined;
    if (
      hello.resumeToken.length > 0 &&
      (capabilities & Capability.RESUME) !== 0 &&
      this.opts.signer &&
      this.opts.tokens
    ) {
      try {
        const t = verifyResumeToken(hello.resumeToken, this.opts.signer, now);
        const r = this.opts.tokens.consume(sessionIdHex(t.sessionId), t.generation, now);
        if (r === "reused") {
          throw new DeltaframeError("DF_ERR_RESUME_TOKEN_REUSED", "cannot resume: token already used", {
            generation: t.generation,
          });
        }
        if (r !== "ok")
          throw new DeltaframeError("DF_ERR_RESUME_TOKEN_INVALID", "cannot resume: token unknown");
        resume = { sessionId: t.sessionId, generation: t.generation };
      } catch (error) {
        this.metrics.resumesRefused++;
        throw error;
      }
    }
    this.move("hello", "handle hello");
    this.hello = hello;
    this.version = version;
    this.capabilities = capabilities;
    this.resumeOf = resume;
    this.emit({
      type: "authenticate",
      credentials: hello.credentials,
      agent: hello.agent,
      version,
      capabilities,
      ...(resume ? { resume: { sessionId: resume.sessionId } } : {}),
    });
  }

  private onAck(messages: bigint, bytes: bigint, windowMessages: number, windowBytes: number): void {
    this.metrics.acksIn++;
    this.credit.ack(messages, bytes, windowMessages, windowBytes);
  }

  private onSubscribe(s: Subscribe, now: number): void {
    const len = utf8Bytes(s.stream);
    if (len === 0 || len > 256) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot subscribe: stream name must be 1–256 bytes", {
        bytes: len,
      });
    }
    if (this.byStream.has(s.stream)) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot subscribe: already subscribed to the stream", {
        stream: s.stream,
      });
    }
    const alias = this.nextAlias++;
    const source = this.subs.size >= this.opts.maxSubscriptions ? undefined : this.opts.streams(s.stream);
    const policy = s.policy === SlowPolicy.UNSPECIFIED ? SlowPolicy.CONFLATE : s.policy;
    const maxBufferedEvents = Math.min(
      s.maxBufferedEvents === 0 ? this.opts.defaultBufferedEvents : s.maxBufferedEvents,
      this.opts.maxBufferedEvents,
    );
    if (source === undefined) {
      const code =
        this.subs.size >= this.opts.maxSubscriptions ? 1008 : ERROR_CODES.DF_ERR_STREAM_UNKNOWN.closeCode;
      // A refusal is an Unsubscribe under a fresh alias: the first answer to this subscribe.
      this.queue(
        frame({
          case: "unsubscribe",
          value: create(UnsubscribeSchema, {
            alias,
            code,
            reason: code === 1008 ? "too many subscriptions" : "unknown stream",
          }),
        }),
      );
      return;
    }
    const epoch = source.epoch;
    const latest = source.offset;
    const sameEpoch = s.epoch !== 0n && s.epoch === epoch;
    if (sameEpoch) {
      if (s.offset > latest) {
        throw new DeltaframeError("DF_ERR_RESUME_POSITION", "cannot subscribe: position beyond the stream", {
          offset: s.offset,
          latest,
        });
      }
      for (const h of s.held) {
        if (h.version > latest) {
          throw new DeltaframeError(
            "DF_ERR_RESUME_POSITION",
            "cannot subscribe: held version beyond the stream",
            {
              key: h.key,
              version: h.version,
              latest,
            },
          );
        }
      }
    }
    const sub: Sub = {
      alias,
      stream: s.stream,
      source,
      policy,
      maxBufferedEvents,
      maxStalenessMs: s.maxStalenessMs,
      minIntervalMs: s.maxRateHz === 0 ? 0 : 1000 / s.maxRateHz,
      keyIds: new Map(),
      nextKeyId: 1,
      held: new Map(),
      dirty: new Map(),
      events: [],
      eventsHead: 0,
      lastSentAt: new Map(),
      lastPublished: latest,
      seen: undefined,
      sync: undefined,
      resyncAll: false,
      resyncKeys: new Set(),
      skipConflated: 0,
      skipDropped: 0,
      view: undefined,
      viewBatch: undefined,
      followBackoff: 0,
    };
    // Choose the cheapest correct sync: replay from the log, per-key catch-up, or a snapshot.
    let mode = SyncMode.SNAPSHOT;
    let replay: PublishItem[] | undefined;
    if (sameEpoch && s.offset > 0n) {
      const log = this.opts.log;
      if (s.offset === latest) {
        mode = SyncMode.REPLAY;
        replay = [];
      } else if (log !== undefined) {
        const oldest = log.oldestOffset(s.stream);
        if (oldest !== undefined && oldest <= s.offset + 1n) {
          const entries = log.read(s.stream, s.offset + 1n, this.opts.maxReplayEntries + 1);
          const complete =
            entries.length <= this.opts.maxReplayEntries &&
            entries.length > 0 &&
            entries[0]!.offset === s.offset + 1n &&
            entries[entries.length - 1]!.offset === latest &&
            entries.every((e, i) => i === 0 || e.offset === entries[i - 1]!.offset + 1n);
          if (complete) {
            mode = SyncMode.REPLAY;
            replay = entries;
          }
        }
      }
    }
    if (mode !== SyncMode.REPLAY && sameEpoch && s.held.length > 0) mode = SyncMode.CATCH_UP;
    if (mode === SyncMode.REPLAY || mode === SyncMode.CATCH_UP) {
      for (const h of s.held) sub.held.set(h.key, h.version);
    }
    this.subs.set(alias, sub);
    this.byStream.set(s.stream, sub);
    const offset = mode === SyncMode.REPLAY ? s.offset : latest;
    this.queue(
      frame({
        case: "subscribed",
        value: create(SubscribedSchema, {
          stream: s.stream,
          alias,
          epoch,
          offset,
          mode,
          policy,
          maxBufferedEvents,
        }),
      }),
    );
    this.emit({ type: "subscribed", stream: s.stream, alias, mode });
    if (mode === SyncMode.REPLAY) {
      // The lane starts at the Subscribed offset.
      sub.seen = offset;
      for (const e of replay ?? []) {
        // An item that can never fit ends the subscription (fits): nothing more goes to it.
        if (!this.subs.has(alias)) break;
        this.enqueue(sub, e, now);
      }
    } else if (mode === SyncMode.CATCH_UP) {
      const keys: string[] = [];
      for (const key of source.keys()) {
        const cur = source.get(key);
        if (cur !== undefined && sub.held.get(key) !== cur.version) keys.push(key);
      }
      const removed: string[] = [];
      for (const key of sub.held.keys()) if (source.get(key) === undefined) removed.push(key);
      // The client drops these with the catch-up: it no longer holds them.
      for (const key of removed) sub.held.delete(key);
      sub.sync = { mode, offset: latest, keys, index: 0, removed, begun: false };
    } else {
      sub.sync = { mode, offset: latest, keys: [...source.keys()], index: 0, removed: [], begun: false };
    }
  }

  private onUnsubscribe(alias: number): void {
    const sub = this.lookup(alias);
    if (sub === undefined) return;
    this.dropSub(sub);
    this.emit({ type: "unsubscribed", stream: sub.stream, alias, code: 0 });
  }

  private onResync(alias: number, keys: readonly string[], reason: number): void {
    const sub = this.lookup(alias);
    if (sub === undefined) return;
    this.emit({ type: "resync", stream: sub.stream, keys: [...keys], reason });
    if (keys.length === 0) sub.resyncAll = true;
    else {
      // Bounded: at most one entry per key the client names, deduplicated; a resync of the whole stream supersedes.
      for (const k of keys) {
        if (sub.resyncKeys.size >= this.limits.maxListLength) break;
        sub.resyncKeys.add(k);
      }
    }
  }

  /** Returns the live subscription, undefined for an ended one; throws DF_ERR_ALIAS_UNKNOWN for one never allocated. */
  private lookup(alias: number): Sub | undefined {
    const sub = this.subs.get(alias);
    if (sub !== undefined) return sub;
    if (alias === 0 || alias >= this.nextAlias) {
      throw new DeltaframeError("DF_ERR_ALIAS_UNKNOWN", "cannot handle frame: unknown alias", { alias });
    }
    return undefined;
  }

  // --- the live lane ---------------------------------------------------------

  private enqueue(sub: Sub, item: PublishItem, now: number): void {
    if (item.type === "event") {
      if (this.laneClear(sub) && this.canSend(item.payload.length)) {
        if (this.fits(sub, eventMessageBoundBytes(item.payload.length))) this.sendEvent(sub, item);
        return;
      }
      sub.events.push(item);
      if (sub.events.length - sub.eventsHead > sub.maxBufferedEvents) this.overflow(sub);
      return;
    }
    const held = sub.held.get(item.key);
    if (held !== undefined && item.offset <= held) {
      // The client already holds this (a snapshot entry read a newer value): accounted as skipped.
      this.skip(sub, 1);
      return;
    }
    const d = sub.dirty.get(item.key);
    if (d !== undefined) {
      // Folded: the earlier change will never be sent on its own.
      this.skip(sub, 1);
      d.version = item.offset;
      d.change = item;
      return;
    }
    if (this.laneClear(sub) && this.rateOk(sub, item.key, now)) {
      const applies = item.kind !== "patch" || (item.base !== undefined && item.base === held);
      if (applies && !(item.kind === "remove" && held === undefined) && this.canSend(item.body.length)) {
        if (!this.fits(sub, changeMessageBoundBytes(item.body.length, item.key))) return;
        this.sendUpdate(sub, item.key, item.offset, item.kind, item.body, item.hash, now);
        return;
      }
    }
    sub.dirty.set(item.key, { version: item.offset, since: now, change: item });
  }

  private laneClear(sub: Sub): boolean {
    return sub.sync === undefined && sub.dirty.size === 0 && sub.eventsHead === sub.events.length;
  }

  private rateOk(sub: Sub, key: string, now: number): boolean {
    if (sub.minIntervalMs === 0) return true;
    const t = sub.lastSentAt.get(key);
    return t === undefined || now >= t + sub.minIntervalMs;
  }

  private skip(sub: Sub, n: number): void {
    sub.skipConflated += n;
    this.metrics.conflatedUpdates += n;
  }

  private overflow(sub: Sub): void {
    switch (sub.policy) {
      case SlowPolicy.DROP_OLDEST:
        sub.eventsHead++;
        sub.skipDropped++;
        this.metrics.droppedEvents++;
        this.compactEvents(sub);
        return;
      default:
        // SLOW_POLICY_CONFLATE and SLOW_POLICY_BUFFER_THEN_CLOSE (docs/protocol.md §9).
        this.endSub(sub, ERROR_CODES.DF_ERR_SLOW_CONSUMER.closeCode, "slow consumer: event buffer full");
    }
  }

  private compactEvents(sub: Sub): void {
    if (sub.eventsHead > 64 && sub.eventsHead * 2 > sub.events.length) {
      sub.events.splice(0, sub.eventsHead);
      sub.eventsHead = 0;
    } else if (sub.eventsHead === sub.events.length) {
      sub.events.length = 0;
      sub.eventsHead = 0;
    }
  }

  /** Whether credit allows one more data item of `bytes` payload bytes (`messages` 0: a snapshot entry). */
  private canSend(bytes: number, messages = 1): boolean {
    return this.credit.canSend(bytes, messages);
  }

  private charge(bytes: number, messages = 1): void {
    this.credit.charge(bytes, messages);
    this.metrics.dataOut++;
  }

  private stall(): void {
    if (!this.stalled) {
      this.stalled = true;
      this.metrics.creditStalls++;
    }
  }

  private flushSkipped(sub: Sub): void {
    if (sub.skipConflated === 0 && sub.skipDropped === 0) return;
    this.closeRun();
    this.queue(
      frame({
        case: "skipped",
        value: create(SkippedSchema, {
          alias: sub.alias,
          conflatedUpdates: BigInt(sub.skipConflated),
          droppedEvents: BigInt(sub.skipDropped),
        }),
      }),
    );
    sub.skipConflated = 0;
    sub.skipDropped = 0;
  }

  private keyId(sub: Sub, key: string): { id: number; fresh: boolean } {
    materialize(sub);
    const id = sub.keyIds.get(key);
    if (id !== undefined) return { id, fresh: false };
    // Stream-wide ids when the source has them (shared batches), else numbered per subscription.
    const n = sub.source.keyId?.(key) ?? sub.nextKeyId++;
    sub.keyIds.set(key, n);
    return { id: n, fresh: true };
  }

  private sendEvent(sub: Sub, e: PublishedEvent): void {
    this.flushSkipped(sub);
    this.closeRun();
    this.charge(e.payload.length);
    sub.seen = e.offset;
    this.queue(
      frame({
        case: "event",
        value: create(EventSchema, { alias: sub.alias, offset: e.offset, payload: e.payload }),
      }),
    );
  }

  private sendUpdate(
    sub: Sub,
    key: string,
    version: bigint,
    kind: ChangeKind,
    body: Uint8Array,
    hash: bigint | undefined,
    now: number,
  ): void {
    this.flushSkipped(sub);
    const hashed = hash !== undefined && (this.capabilities & Capability.HASH) !== 0;
    const { id, fresh } = this.keyId(sub, key);
    // A key the client does not hold is (re)bound, as a shared batch binds every key it introduces.
    const bindKey = fresh || (kind !== "remove" && !sub.held.has(key)) ? key : undefined;
    let run = this.run;
    if (
      run === undefined ||
      run.sub !== sub ||
      run.frame.hashed !== hashed ||
      run.frame.boundBytes + updateBoundBytes(body.length, bindKey) > runBudgetBytes(this.sendMaxBytes)
    ) {
      this.closeRun();
      // Frames go out in the order they are built, so `seen` is what the client has seen before this run.
      const implicit = sub.seen !== undefined && version === sub.seen + 1n;
      run = { sub, frame: new UpdatesRun(sub.alias, version, implicit, hashed) };
      this.run = run;
    }
    run.frame.add(id, bindKey, version, kind, body, hash);
    sub.seen = version;
    this.charge(body.length);
    if (kind === "remove") sub.held.delete(key);
    else sub.held.set(key, version);
    if (sub.minIntervalMs > 0) sub.lastSentAt.set(key, now);
  }

  private closeRun(): void {
    const run = this.run;
    if (run === undefined) return;
    this.run = undefined;
    this.outbox.push(run.frame.seal());
  }

  protected override sealPending(): void {
    this.closeRun();
  }

  protected override queue(f: Frame): void {
    this.closeRun();
    super.queue(f);
  }

  /**
   * Sends what credit allows, subscription by subscription, rotating the start
   * for fairness; only `only` when given (a publish touches one stream).
   */
  private flush(now: number, only?: Sub): void {
    if (!this.isLive()) return;
    if (only !== undefined) {
      if (this.subs.has(only.alias)) this.flushSub(only, now);
    } else if (this.subs.size > 0 && this.anyPending()) {
      const subs = [...this.subs.values()];
      const start = this.rotate++ % subs.length;
      for (let i = 0; i < subs.length; i++) {
        const sub = subs[(start + i) % subs.length]!;
        if (this.isClosed) return;
        if (!this.subs.has(sub.alias)) continue;
        this.flushSub(sub, now);
      }
    }
    // The open Updates run stays open so later publishes join it; pollTransmit seals it.
    if (this.stalled && [...this.subs.values()].every((s) => this.idle(s))) {
      this.stalled = false;
      this.emit({ type: "writable" });
    }
  }

  /** Whether any subscription has something for {@link flushSub} to do (most inputs, such as acks, find none). */
  private anyPending(): boolean {
    for (const sub of this.subs.values()) {
      if (!this.idle(sub) || sub.sync !== undefined || sub.skipConflated !== 0 || sub.skipDropped !== 0)
        return true;
    }
    return false;
  }

  private idle(sub: Sub): boolean {
    return this.laneClear(sub) && !sub.resyncAll && sub.resyncKeys.size === 0;
  }

  private flushSub(sub: Sub, now: number): void {
    for (;;) {
      if (sub.sync === undefined) this.startResync(sub);
      if (sub.sync !== undefined) {
        if (!this.progressSync(sub)) return;
        continue;
      }
      break;
    }
    this.drainLane(sub, now);
  }

  private startResync(sub: Sub): void {
    if (!sub.resyncAll && sub.resyncKeys.size === 0) return;
    materialize(sub);
    const source = sub.source;
    if (sub.resyncAll) {
      sub.sync = {
        mode: SyncMode.SNAPSHOT,
        offset: this.laneOffset(sub),
        keys: [...source.keys()],
        index: 0,
        removed: [],
        begun: false,
      };
      sub.held.clear();
    } else {
      const keys: string[] = [];
      const removed: string[] = [];
      for (const k of sub.resyncKeys) {
        if (source.get(k) !== undefined) keys.push(k);
        else {
          removed.push(k);
          sub.held.delete(k);
          const d = sub.dirty.get(k);
          if (d !== undefined) {
            sub.dirty.delete(k);
            this.skip(sub, 1);
          }
        }
      }
      sub.sync = {
        mode: SyncMode.CATCH_UP,
        offset: this.laneOffset(sub),
        keys,
        index: 0,
        removed,
        begun: false,
      };
    }
    sub.resyncAll = false;
    sub.resyncKeys.clear();
  }

  /** The offset up to which the live lane has been accounted (sent or skipped). */
  private laneOffset(sub: Sub): bigint {
    let o = sub.lastPublished;
    for (const d of sub.dirty.values()) if (d.version <= o) o = d.version - 1n;
    if (sub.eventsHead < sub.events.length) {
      const e = sub.events[sub.eventsHead]!.offset - 1n;
      if (e < o) o = e;
    }
    return o;
  }

  /** Sends snapshot frames within credit; returns true when the sync finished. */
  private progressSync(sub: Sub): boolean {
    const sync = sub.sync!;
    if (!sync.begun) {
      sync.begun = true;
      this.queue(
        frame({
          case: "snapshotBegin",
          value: create(SnapshotBeginSchema, {
            alias: sub.alias,
            epoch: sub.source.epoch,
            offset: sync.offset,
            keyCount: sync.keys.length,
            mode: sync.mode,
          }),
        }),
      );
    }
    let entries: SnapshotEntry[] = [];
    let bytes = 0;
    const emitChunk = (removed: string[]) => {
      if (entries.length === 0 && removed.length === 0) return;
      this.queue(
        frame({
          case: "snapshotChunk",
          value: create(SnapshotChunkSchema, { alias: sub.alias, entries, removed }),
        }),
      );
      entries = [];
      bytes = 0;
    };
    const chunkBudget = Math.min(this.opts.snapshotChunkBytes, Math.max(256, this.sendMaxBytes - 256));
    while (sync.index < sync.keys.length) {
      const key = sync.keys[sync.index]!;
      const cur = sub.source.get(key);
      if (cur === undefined) {
        sync.index++;
        continue;
      }
      if (!this.canSend(cur.value.length, 0)) {
        emitChunk([]);
        this.stall();
        return false;
      }
      if (!this.fits(sub, changeMessageBoundBytes(cur.value.length, key))) return false;
      if (entries.length > 0 && bytes + cur.value.length + utf8Bytes(key) + 16 > chunkBudget) emitChunk([]);
      this.charge(cur.value.length, 0);
      const { id } = this.keyId(sub, key);
      entries.push(create(SnapshotEntrySchema, { key, keyId: id, version: cur.version, value: cur.value }));
      bytes += cur.value.length + utf8Bytes(key) + 16;
      sub.held.set(key, cur.version);
      if (sub.dirty.delete(key)) this.skip(sub, 1);
      sync.index++;
    }
    emitChunk([]);
    // Removed keys go in chunks bounded by the list limit.
    for (let i = 0; i < sync.removed.length; i += 1024) emitChunk(sync.removed.slice(i, i + 1024));
    // A full snapshot carries the state hash when the client now holds exactly the source's state (no key changed
    // after it was sent, so nothing is dirty).
    const hash =
      sync.mode === SyncMode.SNAPSHOT &&
      (this.capabilities & Capability.HASH) !== 0 &&
      sub.dirty.size === 0 &&
      sub.source.stateHash !== undefined
        ? sub.source.stateHash()
        : 0n;
    this.queue(
      frame({
        case: "snapshotEnd",
        value: create(SnapshotEndSchema, { alias: sub.alias, offset: sync.offset, hash }),
      }),
    );
    sub.sync = undefined;
    // The first sync starts the lane at its offset; a later resync leaves the lane where it is.
    if (sub.seen === undefined) sub.seen = sync.offset;
    return true;
  }

  /** Sends the live lane in offset order within credit and rate limits (head-of-line). */
  private drainLane(sub: Sub, now: number): void {
    if (sub.dirty.size === 0 && sub.eventsHead === sub.events.length) {
      this.flushSkipped(sub);
      return;
    }
    materialize(sub);
    const order = [...sub.dirty.entries()].sort((a, b) => (a[1].version < b[1].version ? -1 : 1));
    let i = 0;
    for (;;) {
      const ev = sub.eventsHead < sub.events.length ? sub.events[sub.eventsHead]! : undefined;
      const kd = order[i];
      if (ev === undefined && kd === undefined) break;
      if (ev !== undefined && (kd === undefined || ev.offset < kd[1].version)) {
        if (!this.canSend(ev.payload.length)) {
          this.stall();
          break;
        }
        sub.eventsHead++;
        if (!this.fits(sub, eventMessageBoundBytes(ev.payload.length))) return;
        this.sendEvent(sub, ev);
        continue;
      }
      const [key, d] = kd!;
      if (!this.rateOk(sub, key, now)) break;
      const held = sub.held.get(key);
      const c = d.change;
      let change: KeyChange | undefined;
      if (
        c !== undefined &&
        (c.kind === "full" ||
          (c.kind === "patch" && c.base !== undefined && c.base === held) ||
          (c.kind === "remove" && held !== undefined))
      ) {
        change = {
          kind: c.kind,
          version: d.version,
          body: c.body,
          ...(c.hash !== undefined ? { hash: c.hash } : {}),
        };
      } else {
        change = sub.source.change(key, held);
      }
      if (change === undefined || (change.kind === "remove" && held === undefined)) {
        sub.dirty.delete(key);
        this.skip(sub, 1);
        i++;
        continue;
      }
      if (!this.canSend(change.body.length)) {
        this.stall();
        break;
      }
      sub.dirty.delete(key);
      if (!this.fits(sub, changeMessageBoundBytes(change.body.length, key))) return;
      this.sendUpdate(sub, key, d.version, change.kind, change.body, change.hash, now);
      i++;
    }
    this.compactEvents(sub);
    this.flushSkipped(sub);
  }

  /**
   * Whether one item — a value, patch or event whose transport message,
   * alone, is bounded by `messageBoundBytes` (`changeMessageBoundBytes`,
   * `eventMessageBoundBytes`) — fits in one message of the client's size.
   * When it does not, it can never
   * be delivered: the subscription ends with DF_ERR_MESSAGE_TOO_LARGE's close
   * code (1009) in `Unsubscribe` rather than sending a message the client
   * must refuse (docs/protocol.md §15), and false is returned.
   */
  private fits(sub: Sub, messageBoundBytes: number): boolean {
    if (messageBoundBytes <= this.sendMaxBytes) return true;
    this.endSub(
      sub,
      ERROR_CODES.DF_ERR_MESSAGE_TOO_LARGE.closeCode,
      "cannot send: a value or event is larger than the client's max message size",
    );
    return false;
  }

  private endSub(sub: Sub, code: number, reason: string): void {
    this.dropSub(sub);
    this.queue(
      frame({
        case: "unsubscribe",
        value: create(UnsubscribeSchema, { alias: sub.alias, code, reason: clipReason(reason) }),
      }),
    );
    this.emit({ type: "unsubscribed", stream: sub.stream, alias: sub.alias, code });
  }

  private dropSub(sub: Sub): void {
    if (this.run?.sub === sub) this.closeRun();
    this.subs.delete(sub.alias);
    this.byStream.delete(sub.stream);
  }

  // --- time ------------------------------------------------------------------

  protected onTimeout(now: number): void {
    if ((this._state === "awaiting-hello" || this._state === "authenticating") && now >= this.authDeadline) {
      this.fail(
        new DeltaframeError("DF_ERR_AUTH_TIMEOUT", "cannot authenticate: deadline passed", {
          authTimeoutMs: this.opts.authTimeoutMs,
        }),
        "timeout",
      );
      return;
    }
    if (this._state === "draining" && this.drainDeadline !== undefined && now >= this.drainDeadline) {
      this.closeLocal(1001, "server going away", this.drainHint, "close after drain", "close");
      return;
    }
    for (const sub of [...this.subs.values()]) {
      if (sub.maxStalenessMs === 0) continue;
      for (const d of sub.dirty.values()) {
        if (now >= d.since + sub.maxStalenessMs) {
          this.endSub(
            sub,
            ERROR_CODES.DF_ERR_SLOW_CONSUMER.closeCode,
            "slow consumer: staleness bound exceeded",
          );
          break;
        }
      }
    }
  }

  protected override afterInput(now: number): void {
    this.flush(now);
  }

  protected nextDeadline(): number | undefined {
    if (this._state === "awaiting-hello" || this._state === "authenticating") return this.authDeadline;
    let t: number | undefined;
    const consider = (d: number) => {
      if (t === undefined || d < t) t = d;
    };
    if (this._state === "draining" && this.drainDeadline !== undefined) consider(this.drainDeadline);
    for (const sub of this.subs.values()) {
      if (sub.dirty.size === 0 || sub.sync !== undefined) continue;
      for (const [key, d] of sub.dirty) {
        if (sub.maxStalenessMs > 0) consider(d.since + sub.maxStalenessMs);
        if (sub.minIntervalMs > 0) {
          const last = sub.lastSentAt.get(key);
          if (last !== undefined && last + sub.minIntervalMs > this.now) consider(last + sub.minIntervalMs);
        }
      }
    }
    return t;
  }

  protected canPing(): boolean {
    return this.isLive();
  }

  protected override onClosed(): void {
    this.run = undefined;
    this.subs.clear();
    this.byStream.clear();
  }
}
