/**
 * The client side of a deltaframe connection, sans-IO.
 *
 * Theory of operation. The client checks what the server owes it and grants
 * credit as its application consumes:
 *
 * - Credit: it never accepts more data than it granted — messages (update
 *   entries and events) up to `consumed + window`, payload bytes likewise
 *   (snapshot entries count bytes only); one message larger than the byte
 *   window is accepted when nothing is outstanding. Otherwise
 *   DF_ERR_CREDIT_EXCEEDED.
 * - Acks are cumulative and coalesced: one goes out when half a window was
 *   consumed, or `ackDelayMs` after the first unacknowledged consumption, and
 *   rides along in any transport message the client sends anyway.
 * - Live lane: per subscription, offsets strictly increase; a gap must be
 *   covered by counts announced in earlier `Skipped` frames. A duplicate,
 *   backwards or unannounced gap is DF_ERR_SEQUENCE. Per key, versions
 *   strictly increase.
 * - Frames for a subscription the client ended are counted against credit,
 *   consumed at once, and otherwise ignored.
 *
 * The client does not decode values: it hands bodies to the application (a
 * delta `Replica`), which calls `resync` when a patch's base is missing or a
 * hash does not match.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { type Deflater, defaultDeflater, maxReadableMessageBytes } from "../codec/index.js";
import { DeltaframeError } from "../errors.js";
import {
  AckSchema,
  Capability,
  type Frame,
  HelloSchema,
  KeyVersionSchema,
  ResyncSchema,
  SlowPolicy,
  type SnapshotBegin,
  type SnapshotChunk,
  type Subscribed,
  SubscribeSchema,
  SyncMode,
  UnsubscribeSchema,
  type Updates,
  type Welcome,
} from "../gen/deltaframe/v1/frames_pb.js";
import { type Limits, resolveLimits } from "../limits.js";
import { ReceiveWindow } from "./credit.js";
import { checkNow, Endpoint, utf8Bytes } from "./endpoint.js";
import { MIN_MESSAGE_BYTES, SUPPORTED_VERSIONS } from "./server.js";
import { CLIENT_TRANSITIONS, type ClientState, type ClientTrigger } from "./transitions.js";
import type { ChangeKind, ClientEvent, SnapshotItem, SubscribeOptions } from "./types.js";
import { frame } from "./wire.js";

/** Options of {@link ClientSession}. */
export interface ClientSessionOptions {
  /** Protocol versions offered, most preferred first. Default [1]. */
  versions: number[];
  /** Capabilities offered. Default HASH | RESUME. */
  capabilities: number;
  /** Opaque credentials for the server application. Default empty. */
  credentials: Uint8Array;
  /** Client name and version for logs, at most 64 bytes. Default "deltaframe". */
  agent: string;
  /** Receive window asked for, in messages. Default 1,024. */
  windowMessages: number;
  /** Receive window asked for, in payload bytes. Default 1 MiB. */
  windowBytes: number;
  /** Consume data as the application polls its event (true), or only through `consume` (false). Default true. */
  autoConsume: boolean;
  /** Longest delay before an ack for consumed data is sent, in ms. Default 20. */
  ackDelayMs: number;
  /** The server must answer the hello within this many ms (else DF_ERR_AUTH_TIMEOUT). Default 15,000. */
  welcomeTimeoutMs: number;
  /** With CAPABILITY_DEFLATE in force, messages smaller than this go plain, in bytes. Default 256. */
  compressThresholdBytes: number;
  /** Compression implementation. Default the codec's (node:zlib on Node, fflate elsewhere). */
  deflater: Deflater | undefined;
  /** What to resume: the state of an earlier session ({@link ClientSession.resumeState}). Default none. */
  resume: ResumeState | undefined;
  /** Bounds on what the server may send (docs/limits.md). */
  limits: Partial<Limits>;
}

/** What a new connection needs to resume an earlier one. */
export interface ResumeState {
  /** The latest resume token received, or undefined. */
  token: Uint8Array | undefined;
  /** The subscriptions, with the position and per-key versions held. */
  subscriptions: ResumeSubscription[];
}

/** One subscription to restore on resume. */
export interface ResumeSubscription {
  /** Stream name. */
  stream: string;
  /** Its options. */
  options: SubscribeOptions;
  /** Epoch held (0: none). */
  epoch: bigint;
  /** Offset up to which every change is accounted for (0: none). */
  offset: bigint;
  /** Per-key versions held. */
  held: Array<[string, bigint]>;
}

interface CSub {
  stream: string;
  options: SubscribeOptions;
  /** Not yet sent (session not open), sent (awaiting Subscribed), active, or cancelled before Subscribed. */
  phase: "queued" | "sent" | "active" | "cancelled";
  alias: number;
  epoch: bigint;
  /** Declared position (resume). */
  declaredOffset: bigint;
  /** Next live-lane offset expected; 0 until the lane starts. */
  expected: bigint;
  /** Offsets announced as skipped and not yet seen as gaps. */
  budget: bigint;
  /** A sync (snapshot / catch-up) is announced or in progress; live data is not allowed. */
  syncing: boolean;
  syncBegun: boolean;
  syncOffset: bigint;
  /** The sync begun is a full snapshot (mode SNAPSHOT), which replaces every key. */
  syncFull: boolean;
  laneStarted: boolean;
  held: Map<string, bigint>;
  keys: Map<number, string>;
  /** Keys asked for again (resync) and not delivered since: not held, though the stream may have them. */
  resyncKeys: Set<string>;
  /** The whole stream was asked for again and no full snapshot has ended since. */
  resyncAll: boolean;
}

interface Pending {
  event: ClientEvent;
  messages: number;
  bytes: number;
  data: boolean;
}

const DEFAULT_SUBSCRIBE: SubscribeOptions = {
  policy: SlowPolicy.UNSPECIFIED,
  maxBufferedEvents: 0,
  maxStalenessMs: 0,
  maxRateHz: 0,
};

function invalid(operation: string, what: string, details: Record<string, unknown> = {}): DeltaframeError {
  return new DeltaframeError("DF_ERR_INVALID_ARGUMENT", `cannot ${operation}: ${what}`, details);
}

function checkUint32(v: number, name: string, operation: string, min = 0): void {
  if (!Number.isSafeInteger(v) || v < min || v > 0xffffffff)
    throw invalid(operation, `${name} must be a uint32 ≥ ${min}`, { [name]: v });
}

function resolveOptions(o: Partial<ClientSessionOptions>): ClientSessionOptions {
  const out: ClientSessionOptions = {
    versions: o.versions ?? [...SUPPORTED_VERSIONS],
    capabilities: o.capabilities ?? Capability.HASH | Capability.RESUME,
    credentials: o.credentials ?? new Uint8Array(0),
    agent: o.agent ?? "deltaframe",
    windowMessages: o.windowMessages ?? 1024,
    windowBytes: o.windowBytes ?? 1 << 20,
    autoConsume: o.autoConsume ?? true,
    ackDelayMs: o.ackDelayMs ?? 20,
    welcomeTimeoutMs: o.welcomeTimeoutMs ?? 15_000,
    resume: o.resume,
    limits: o.limits ?? {},
    compressThresholdBytes: o.compressThresholdBytes ?? 256,
    deflater: o.deflater,
  };
  const op = "create client session";
  if (out.versions.length === 0) throw invalid(op, "versions must not be empty");
  checkUint32(out.windowMessages, "windowMessages", op, 1);
  checkUint32(out.windowBytes, "windowBytes", op, 1);
  checkUint32(out.ackDelayMs, "ackDelayMs", op, 1);
  checkUint32(out.welcomeTimeoutMs, "welcomeTimeoutMs", op, 1);
  if (utf8Bytes(out.agent) > 64) throw invalid(op, "agent over 64 bytes");
  return out;
}

function checkSubscribeOptions(o: SubscribeOptions, operation: string): void {
  checkUint32(o.maxBufferedEvents, "maxBufferedEvents", operation);
  checkUint32(o.maxStalenessMs, "maxStalenessMs", operation);
  checkUint32(o.maxRateHz, "maxRateHz", operation);
  if (
    ![
      SlowPolicy.UNSPECIFIED,
      SlowPolicy.CONFLATE,
      SlowPolicy.DROP_OLDEST,
      SlowPolicy.BUFFER_THEN_CLOSE,
    ].includes(o.policy)
  ) {
    throw invalid(operation, "unknown slow policy", { policy: o.policy });
  }
}

/**
 * Returns the `Hello.max_message_bytes` a client advertises: `limit` (its
 * `maxMessageBytes`; 0 on the wire for unlimited, at most 2^32 - 1), lowered
 * to `maxReadableMessageBytes(deflater)` when it offers CAPABILITY_DEFLATE or
 * CAPABILITY_DICTIONARY and its deflater (the codec's default when none is
 * given: fflate outside Node) accepts only so much deflate data. The server
 * never sends a message larger than the client advertised, so every
 * compressed message it sends carries deflate data the client can inflate
 * (fflate by default: 65,027 bytes of deflate data, 65,029-byte messages).
 * Throws DF_ERR_INVALID_ARGUMENT when the lowered size is below
 * {@link MIN_MESSAGE_BYTES}, which the server would refuse.
 */
function helloMaxMessageBytes(limit: number, opts: ClientSessionOptions): number {
  let max = limit;
  if ((opts.capabilities & (Capability.DEFLATE | Capability.DICTIONARY)) !== 0) {
    const readable = maxReadableMessageBytes(opts.deflater ?? defaultDeflater());
    if (readable < max) {
      if (readable < MIN_MESSAGE_BYTES) {
        throw invalid("connect", "the deflater reads compressed messages too small for the protocol", {
          maxReadableMessageBytes: readable,
          minMessageBytes: MIN_MESSAGE_BYTES,
        });
      }
      max = readable;
    }
  }
  return max === Number.POSITIVE_INFINITY ? 0 : Math.min(max, 0xffffffff);
}

const KINDS: readonly ChangeKind[] = ["full", "patch", "remove"];

/** Largest stream offset (uint64). */
const MAX_UINT64 = (1n << 64n) - 1n;

/**
 * One connection's client-side protocol state. Call `connect` to queue the
 * hello; feed transport messages and time; drain `pollTransmit`, `pollEvent`,
 * `pollTimeout`. It does no I/O. See the module comment for its invariants.
 */
export class ClientSession extends Endpoint<ClientState, ClientTrigger, ClientEvent> {
  private readonly opts: ClientSessionOptions;
  private readonly byStream = new Map<string, CSub>();
  private readonly byAlias = new Map<number, CSub>();
  private maxAlias = 0;
  private welcomeDeadline: number | undefined;
  private token: Uint8Array | undefined;
  private window = new ReceiveWindow(0, 0);
  private ackDeadline: number | undefined;
  /** Data events delivered and not yet consumed (manual mode), oldest first. */
  private readonly unconsumed: Array<{ messages: number; bytes: number }> = [];
  private unconsumedHead = 0;
  private readonly pendingMeta: Pending[] = [];
  private pendingMetaHead = 0;

  /** Creates a client session; nothing is queued until {@link connect}. Throws DF_ERR_INVALID_ARGUMENT / DF_ERR_LIMIT_INVALID for bad options. */
  constructor(options: Partial<ClientSessionOptions> = {}) {
    const opts = resolveOptions(options);
    super("idle", CLIENT_TRANSITIONS, resolveLimits(opts.limits));
    this.opts = opts;
    this.token = opts.resume?.token;
    for (const r of opts.resume?.subscriptions ?? []) {
      checkSubscribeOptions(r.options, "create client session");
      const sub = this.newSub(r.stream, r.options);
      sub.epoch = r.epoch;
      sub.declaredOffset = r.offset;
      for (const [k, v] of r.held) sub.held.set(k, v);
      this.byStream.set(r.stream, sub);
    }
  }

  /**
   * Queues the hello at time `now`. Its `max_message_bytes` is
   * `limits.maxMessageBytes`, lowered when compression is offered and the
   * deflater bounds its input (see {@link helloMaxMessageBytes}). Throws
   * DF_ERR_INVALID_STATE unless idle, DF_ERR_INVALID_ARGUMENT when that
   * lowered size is below the protocol's minimum ({@link MIN_MESSAGE_BYTES}).
   */
  connect(now: number): void {
    checkNow(now, "connect");
    const maxMessageBytes = helloMaxMessageBytes(this.limits.maxMessageBytes, this.opts);
    this.move("connect", "connect");
    this.tick(now);
    this.lastReceivedAt = now;
    this.lastSentAt = now;
    this.welcomeDeadline = now + this.opts.welcomeTimeoutMs;
    this.queue(
      frame({
        case: "hello",
        value: create(HelloSchema, {
          versions: this.opts.versions,
          capabilities: this.opts.capabilities,
          credentials: this.opts.credentials,
          resumeToken: this.token ?? new Uint8Array(0),
          windowMessages: this.opts.windowMessages,
          windowBytes: this.opts.windowBytes,
          maxMessageBytes,
          agent: this.opts.agent,
        }),
      }),
    );
  }

  /**
   * Subscribes to `stream` (sent now when open, else after the welcome).
   * Throws DF_ERR_INVALID_STATE when closed or already subscribed to the
   * stream, DF_ERR_INVALID_ARGUMENT for a bad name or option.
   */
  subscribe(stream: string, options: Partial<SubscribeOptions>, now: number): void {
    checkNow(now, "subscribe");
    const len = utf8Bytes(stream);
    if (len === 0 || len > 256) throw invalid("subscribe", "stream name must be 1–256 bytes", { bytes: len });
    const o: SubscribeOptions = { ...DEFAULT_SUBSCRIBE, ...options };
    checkSubscribeOptions(o, "subscribe");
    if (this.isClosed)
      throw new DeltaframeError("DF_ERR_INVALID_STATE", `cannot subscribe: session is ${this._state}`);
    if (this.byStream.has(stream)) {
      throw new DeltaframeError("DF_ERR_INVALID_STATE", "cannot subscribe: already subscribed", { stream });
    }
    this.tick(now);
    const sub = this.newSub(stream, o);
    this.byStream.set(stream, sub);
    // After an unsubscribe the server has not answered yet, this subscribe waits for that answer
    // (the server refuses a second subscription to one stream): see cancelDone.
    if (this.isOpen() && !this.cancelling(stream)) this.sendSubscribe(sub);
  }

  /** Whether a subscribe to `stream` was cancelled before its answer, which has not come yet. */
  private cancelling(stream: string): boolean {
    return this.awaiting.some((s) => s.stream === stream && s.phase === "cancelled");
  }

  /** A cancelled subscribe was answered (and unsubscribed): sends a newer subscribe to its stream that waited. */
  private cancelDone(stream: string): void {
    const next = this.byStream.get(stream);
    if (next?.phase === "queued" && this.isOpen() && !this.cancelling(stream)) this.sendSubscribe(next);
  }

  /** Ends the subscription to `stream`. Throws DF_ERR_INVALID_STATE when not subscribed or closed. */
  unsubscribe(stream: string, now: number): void {
    checkNow(now, "unsubscribe");
    const sub = this.byStream.get(stream);
    if (sub === undefined || this.isClosed || sub.phase === "cancelled") {
      throw new DeltaframeError("DF_ERR_INVALID_STATE", "cannot unsubscribe: not subscribed", { stream });
    }
    this.tick(now);
    this.byStream.delete(stream);
    if (sub.phase === "sent") {
      sub.phase = "cancelled";
    } else if (sub.phase === "active") {
      this.byAlias.delete(sub.alias);
      this.queue(frame({ case: "unsubscribe", value: create(UnsubscribeSchema, { alias: sub.alias }) }));
    }
  }

  /** Subscribes sent and not yet answered, oldest first (answers come in order). */
  private readonly awaiting: CSub[] = [];

  /**
   * Asks the server to send `keys` of `stream` again (empty: the whole
   * stream), e.g. after DF_ERR_PATCH_BASE_MISSING or DF_ERR_HASH_MISMATCH from
   * the replica. `reason`: 1 missing base, 2 hash mismatch, 3 application.
   *
   * The keys stop counting as held until they arrive again, and until then
   * {@link resumeState} declares no offset (a resume becomes a catch-up from
   * the versions held, which sends them, instead of a replay, which would
   * not). On a session already closed (its last messages still being
   * delivered) nothing is sent: the keys are only forgotten, for the resume.
   * Throws DF_ERR_INVALID_STATE unless the subscription is active.
   */
  resync(stream: string, keys: readonly string[], reason: number, now: number): void {
    checkNow(now, "resync");
    checkUint32(reason, "reason", "resync");
    const sub = this.byStream.get(stream);
    if (sub === undefined || sub.phase !== "active" || (!this.isOpen() && !this.isClosed)) {
      throw new DeltaframeError("DF_ERR_INVALID_STATE", "cannot resync: subscription not active", { stream });
    }
    if (keys.length === 0) sub.resyncAll = true;
    for (const key of keys) {
      sub.held.delete(key);
      sub.resyncKeys.add(key);
    }
    if (this.isClosed) return;
    this.tick(now);
    this.queue(
      frame({ case: "resync", value: create(ResyncSchema, { alias: sub.alias, keys: [...keys], reason }) }),
    );
  }

  /**
   * Tells the session the application processed the next `count` data events
   * ("update", "event", "snapshot"), granting their credit back. Only with
   * `autoConsume: false`. Throws DF_ERR_INVALID_ARGUMENT when `count` exceeds
   * what was delivered, DF_ERR_INVALID_STATE with auto-consume on.
   */
  consume(count: number, now: number): void {
    checkNow(now, "consume");
    if (this.opts.autoConsume)
      throw new DeltaframeError("DF_ERR_INVALID_STATE", "cannot consume: autoConsume is on");
    if (!Number.isSafeInteger(count) || count < 0 || count > this.unconsumed.length - this.unconsumedHead) {
      throw invalid("consume", "count exceeds the data events delivered", {
        count,
        delivered: this.unconsumed.length - this.unconsumedHead,
      });
    }
    this.tick(now);
    for (let i = 0; i < count; i++) {
      const u = this.unconsumed[this.unconsumedHead++]!;
      this.window.consume(u.bytes, u.messages);
    }
    if (this.unconsumedHead === this.unconsumed.length) {
      this.unconsumed.length = 0;
      this.unconsumedHead = 0;
    }
    if (!this.isClosed) this.maybeAck(now);
  }

  /**
   * Changes the receive window (messages and payload bytes) and tells the
   * server at once with an ack carrying the new window; the server clamps it
   * to its maximum. Throws DF_ERR_INVALID_ARGUMENT for values that are not
   * uint32 ≥ 1, DF_ERR_INVALID_STATE unless open.
   */
  setWindow(windowMessages: number, windowBytes: number, now: number): void {
    checkNow(now, "set window");
    checkUint32(windowMessages, "windowMessages", "set window", 1);
    checkUint32(windowBytes, "windowBytes", "set window", 1);
    if (!this.isOpen())
      throw new DeltaframeError("DF_ERR_INVALID_STATE", `cannot set window: session is ${this._state}`);
    this.tick(now);
    this.window.windowMessages = windowMessages;
    this.window.windowBytes = windowBytes;
    this.sendAck(true);
  }

  /** Data events delivered and not yet consumed. */
  get unconsumedCount(): number {
    return this.unconsumed.length - this.unconsumedHead;
  }

  /** Closes with `code` (default 1000); queued frames and a final ack go first. Throws DF_ERR_INVALID_STATE when closed. */
  close(code: number, reason: string, now: number): void {
    checkNow(now, "close");
    this.tick(now);
    this.closeLocal(code, reason, {}, "close", "close");
  }

  /**
   * Returns what a new connection needs to resume this one: the latest token
   * and, per subscription, the epoch, offset and per-key versions held.
   */
  resumeState(): ResumeState {
    const subscriptions: ResumeSubscription[] = [];
    for (const sub of this.byStream.values()) {
      const started = sub.laneStarted;
      // Not answered yet on this connection: the position declared when it was
      // created (from an earlier resume) still holds.
      const declared = !started && (sub.phase === "queued" || sub.phase === "sent");
      // Keys asked for again, or a resync's snapshot under way: the held versions are not all the
      // stream had at the lane's offset, so no offset is declared (catch-up, not replay); the
      // whole stream asked for again: nothing is declared held either (a snapshot).
      const partial = sub.resyncAll || sub.resyncKeys.size > 0 || (started && sub.syncBegun);
      subscriptions.push({
        stream: sub.stream,
        options: { ...sub.options },
        epoch: started || declared ? sub.epoch : 0n,
        offset: partial ? 0n : started ? sub.expected - 1n : declared ? sub.declaredOffset : 0n,
        held: (started || declared) && !sub.resyncAll ? [...sub.held] : [],
      });
    }
    return { token: this.token, subscriptions };
  }

  /**
   * Returns where the live lane of `stream` stands: the last offset seen and
   * the offsets announced as skipped beyond it (undefined before the lane
   * starts or when not subscribed). When the server has sent everything,
   * `offset + skipped` is the stream's latest offset.
   */
  position(stream: string): { offset: bigint; skipped: bigint } | undefined {
    const sub = this.byStream.get(stream);
    if (sub === undefined || !sub.laneStarted) return undefined;
    return { offset: sub.expected - 1n, skipped: sub.budget };
  }

  /** Credit counters: received, consumed, acknowledged, and the limits granted. */
  get credit(): {
    recvMessages: number;
    recvBytes: number;
    consumedMessages: number;
    consumedBytes: number;
    ackedMessages: number;
    ackedBytes: number;
    limitMessages: number;
    limitBytes: number;
  } {
    const w = this.window;
    return {
      recvMessages: w.recvMessages,
      recvBytes: w.recvBytes,
      consumedMessages: w.consumedMessages,
      consumedBytes: w.consumedBytes,
      ackedMessages: w.ackedMessages,
      ackedBytes: w.ackedBytes,
      limitMessages: w.limitMessages,
      limitBytes: w.limitBytes,
    };
  }

  // --- internals -------------------------------------------------------------

  private newSub(stream: string, options: SubscribeOptions): CSub {
    return {
      stream,
      options,
      phase: "queued",
      alias: 0,
      epoch: 0n,
      declaredOffset: 0n,
      expected: 0n,
      budget: 0n,
      syncing: false,
      syncBegun: false,
      syncOffset: 0n,
      syncFull: false,
      laneStarted: false,
      held: new Map(),
      keys: new Map(),
      resyncKeys: new Set(),
      resyncAll: false,
    };
  }

  private isOpen(): boolean {
    return this._state === "open" || this._state === "draining";
  }

  private sendSubscribe(sub: CSub): void {
    const o = sub.options;
    this.queue(
      frame({
        case: "subscribe",
        value: create(SubscribeSchema, {
          stream: sub.stream,
          epoch: sub.epoch,
          offset: sub.declaredOffset,
          held:
            sub.epoch === 0n
              ? []
              : [...sub.held].map(([key, version]) => create(KeyVersionSchema, { key, version })),
          policy: o.policy,
          maxBufferedEvents: o.maxBufferedEvents,
          maxStalenessMs: o.maxStalenessMs,
          maxRateHz: o.maxRateHz,
        }),
      }),
    );
    sub.phase = "sent";
    this.awaiting.push(sub);
  }

  protected onFrame(f: Frame, now: number): void {
    const body = f.body;
    if (this._state === "hello-sent" && body.case !== "welcome" && body.case !== "close") {
      throw new DeltaframeError("DF_ERR_PROTOCOL", `cannot handle frame: ${body.case} before welcome`, {
        frame: body.case,
      });
    }
    switch (body.case) {
      case "welcome":
        this.onWelcome(body.value, now);
        return;
      case "close":
        this.peerClosed(body.value.code, body.value.reason, body.value.retryAfterMs, body.value.jitterMs);
        return;
      case "ping":
        this.onPing(body.value.id, body.value.timeMs, now);
        return;
      case "pong":
        this.onPong(body.value.id, body.value.pingTimeMs, body.value.timeMs, now);
        return;
      case "subscribed":
        this.onSubscribed(body.value);
        return;
      case "snapshotBegin":
        this.onSnapshotBegin(body.value);
        return;
      case "snapshotChunk":
        this.onSnapshotChunk(body.value);
        return;
      case "snapshotEnd": {
        const sub = this.aliasOf(body.value.alias);
        if (sub === undefined) return;
        if (!sub.syncBegun || body.value.offset !== sub.syncOffset) {
          throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle snapshot end: no matching begin", {
            alias: sub.alias,
          });
        }
        sub.syncing = false;
        sub.syncBegun = false;
        if (sub.syncFull) {
          // Every key the stream has came again.
          sub.resyncAll = false;
          sub.resyncKeys.clear();
        }
        if (!sub.laneStarted) {
          sub.laneStarted = true;
          sub.expected = sub.syncOffset + 1n;
        }
        this.push(
          { type: "snapshot-end", stream: sub.stream, offset: body.value.offset, hash: body.value.hash },
          0,
          0,
          false,
        );
        return;
      }
      case "updates":
        this.onUpdates(body.value);
        return;
      case "event": {
        const e = body.value;
        const sub = this.liveAlias(e.alias, "event");
        const size = e.payload.length;
        this.credit1(1, size);
        if (sub === undefined) {
          this.consumeNow(1, size);
          return;
        }
        this.sequence(sub, e.offset);
        this.push({ type: "event", stream: sub.stream, offset: e.offset, payload: e.payload }, 1, size, true);
        return;
      }
      case "skipped": {
        const sub = this.aliasOf(body.value.alias);
        if (sub === undefined) return;
        sub.budget += body.value.conflatedUpdates + body.value.droppedEvents;
        this.push(
          {
            type: "skipped",
            stream: sub.stream,
            conflatedUpdates: body.value.conflatedUpdates,
            droppedEvents: body.value.droppedEvents,
          },
          0,
          0,
          false,
        );
        return;
      }
      case "unsubscribe": {
        if (body.value.alias > this.maxAlias && this.awaiting.length > 0) {
          // A refusal: the first answer to the oldest pending subscribe, under a fresh alias.
          const refused = this.awaiting.shift()!;
          this.maxAlias = body.value.alias;
          if (refused.phase === "cancelled") {
            this.cancelDone(refused.stream);
            return;
          }
          if (this.byStream.get(refused.stream) === refused) this.byStream.delete(refused.stream);
          this.push(
            {
              type: "unsubscribed",
              stream: refused.stream,
              code: body.value.code,
              reason: body.value.reason,
            },
            0,
            0,
            false,
          );
          return;
        }
        const sub = this.aliasOf(body.value.alias);
        if (sub === undefined) return;
        this.byAlias.delete(sub.alias);
        if (this.byStream.get(sub.stream) === sub) this.byStream.delete(sub.stream);
        this.push(
          { type: "unsubscribed", stream: sub.stream, code: body.value.code, reason: body.value.reason },
          0,
          0,
          false,
        );
        return;
      }
      case "drain":
        if (this._state === "open") this.move("drain", "handle drain");
        this.push(
          {
            type: "drain",
            deadlineMs: body.value.deadlineMs,
            retryAfterMs: body.value.retryAfterMs,
            jitterMs: body.value.jitterMs,
          },
          0,
          0,
          false,
        );
        return;
      default:
        throw new DeltaframeError(
          "DF_ERR_PROTOCOL",
          `cannot handle frame: unexpected ${body.case} from server`,
          {
            frame: body.case,
          },
        );
    }
  }

  private onWelcome(w: Welcome, now: number): void {
    if (this._state !== "hello-sent") {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle welcome: not expected", {
        state: this._state,
      });
    }
    if (!this.opts.versions.includes(w.version)) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle welcome: version not offered", {
        version: w.version,
      });
    }
    if ((w.capabilities & ~this.opts.capabilities) !== 0) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle welcome: capability not offered", {
        capabilities: w.capabilities,
      });
    }
    if (w.windowMessages === 0 || w.windowBytes === 0 || w.maxMessageBytes < MIN_MESSAGE_BYTES) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle welcome: window or message size invalid", {
        windowMessages: w.windowMessages,
        windowBytes: w.windowBytes,
        maxMessageBytes: w.maxMessageBytes,
      });
    }
    this.move("welcome", "handle welcome");
    this.welcomeDeadline = undefined;
    this.window = new ReceiveWindow(w.windowMessages, w.windowBytes);
    if ((w.capabilities & Capability.DEFLATE) !== 0) {
      this.compression = {
        enabled: true,
        thresholdBytes: this.opts.compressThresholdBytes,
        deflater: this.opts.deflater,
      };
    }
    this.sendMaxBytes = Math.min(this.sendMaxBytes, w.maxMessageBytes);
    this.heartbeatMs = w.heartbeatMs;
    this.idleTimeoutMs = w.idleTimeoutMs;
    this.token = w.resumeToken.length > 0 ? w.resumeToken : undefined;
    this.lastReceivedAt = now;
    this.push(
      {
        type: "welcome",
        version: w.version,
        capabilities: w.capabilities,
        sessionId: w.sessionId,
        resumed: w.resumed,
        heartbeatMs: w.heartbeatMs,
        idleTimeoutMs: w.idleTimeoutMs,
        windowMessages: w.windowMessages,
        windowBytes: w.windowBytes,
        maxMessageBytes: w.maxMessageBytes,
      },
      0,
      0,
      false,
    );
    for (const sub of this.byStream.values()) {
      if (sub.phase === "queued" && !this.cancelling(sub.stream)) this.sendSubscribe(sub);
    }
  }

  private onSubscribed(s: Subscribed): void {
    // The server answers subscribes in order: this one answers the oldest pending.
    const sub = this.awaiting[0];
    if (sub === undefined || sub.stream !== s.stream || s.alias <= this.maxAlias) {
      throw new DeltaframeError(
        "DF_ERR_PROTOCOL",
        "cannot handle subscribed: no matching subscribe or alias reused",
        {
          stream: s.stream,
          alias: s.alias,
        },
      );
    }
    this.awaiting.shift();
    this.maxAlias = s.alias;
    sub.alias = s.alias;
    if (sub.phase === "cancelled") {
      this.queue(frame({ case: "unsubscribe", value: create(UnsubscribeSchema, { alias: s.alias }) }));
      this.cancelDone(sub.stream);
      return;
    }
    const keepState = s.mode !== SyncMode.SNAPSHOT && sub.epoch === s.epoch && sub.epoch !== 0n;
    if (!keepState) sub.held.clear();
    sub.phase = "active";
    sub.epoch = s.epoch;
    sub.keys.clear();
    sub.budget = 0n;
    if (s.mode === SyncMode.REPLAY) {
      sub.syncing = false;
      sub.laneStarted = true;
      sub.expected = s.offset + 1n;
    } else {
      sub.syncing = true;
      sub.laneStarted = false;
    }
    this.byAlias.set(s.alias, sub);
    this.push(
      {
        type: "subscribed",
        stream: s.stream,
        alias: s.alias,
        epoch: s.epoch,
        offset: s.offset,
        mode: s.mode,
        policy: s.policy,
        maxBufferedEvents: s.maxBufferedEvents,
      },
      0,
      0,
      false,
    );
  }

  private onSnapshotBegin(b: SnapshotBegin): void {
    const sub = this.aliasOf(b.alias);
    if (sub === undefined) return;
    if (sub.syncBegun || (b.mode !== SyncMode.SNAPSHOT && b.mode !== SyncMode.CATCH_UP)) {
      throw new DeltaframeError(
        "DF_ERR_PROTOCOL",
        "cannot handle snapshot begin: already in a snapshot or bad mode",
        {
          alias: b.alias,
        },
      );
    }
    sub.syncing = true;
    sub.syncBegun = true;
    sub.syncOffset = b.offset;
    sub.syncFull = b.mode === SyncMode.SNAPSHOT;
    if (sub.syncFull) sub.held.clear();
    this.push(
      {
        type: "snapshot-begin",
        stream: sub.stream,
        mode: b.mode,
        epoch: b.epoch,
        offset: b.offset,
        keyCount: b.keyCount,
      },
      0,
      0,
      false,
    );
  }

  private onSnapshotChunk(c: SnapshotChunk): void {
    let bytes = 0;
    for (const e of c.entries) bytes += e.value.length;
    const sub = this.aliasOf(c.alias);
    if (sub === undefined) {
      for (const e of c.entries) this.credit1(0, e.value.length);
      this.consumeNow(0, bytes);
      return;
    }
    if (!sub.syncBegun) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle snapshot chunk: no snapshot begun", {
        alias: c.alias,
      });
    }
    const entries: SnapshotItem[] = [];
    for (const e of c.entries) {
      this.credit1(0, e.value.length);
      if (e.keyId === 0)
        throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle snapshot chunk: key id 0");
      this.bind(sub, e.keyId, e.key);
      sub.held.set(e.key, e.version);
      sub.resyncKeys.delete(e.key);
      entries.push({ key: e.key, version: e.version, value: e.value });
    }
    for (const k of c.removed) {
      sub.held.delete(k);
      sub.resyncKeys.delete(k);
    }
    this.push({ type: "snapshot", stream: sub.stream, entries, removed: [...c.removed] }, 0, bytes, true);
  }

  private bind(sub: CSub, keyId: number, key: string): void {
    const prev = sub.keys.get(keyId);
    if (prev !== undefined && prev !== key) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot bind key: key id already bound to another key", {
        keyId,
      });
    }
    sub.keys.set(keyId, key);
  }

  private onUpdates(u: Updates): void {
    // The codec has checked the columns (sizes, steps ≥ 1, base gaps, hashes).
    const sub = this.liveAlias(u.alias, "updates");
    if (sub === undefined) {
      let pos = 0;
      for (const s of u.sizes) {
        this.credit1(1, s >>> 2);
        pos += s >>> 2;
      }
      this.consumeNow(u.sizes.length, pos);
      return;
    }
    for (const b of u.bindings) {
      if (b.keyId === 0) throw new DeltaframeError("DF_ERR_PROTOCOL", "cannot handle updates: key id 0");
      this.bind(sub, b.keyId, b.key);
    }
    // first_offset 0 is implicit: the lane's next expected offset (liveAlias has checked that the lane started).
    let version = u.firstOffset === 0n ? sub.expected : u.firstOffset;
    let pos = 0;
    for (let i = 0; i < u.keyIds.length; i++) {
      if (i > 0) version += u.steps.length === 0 ? 1n : u.steps[i - 1]!;
      const size = u.sizes[i]! >>> 2;
      const kind = KINDS[u.sizes[i]! & 3]!;
      const body = u.bodies.subarray(pos, pos + size);
      pos += size;
      const key = sub.keys.get(u.keyIds[i]!);
      if (key === undefined) {
        throw new DeltaframeError("DF_ERR_KEY_UNKNOWN", "cannot handle updates: key id not bound", {
          keyId: u.keyIds[i],
        });
      }
      if (version > MAX_UINT64) {
        throw new DeltaframeError("DF_ERR_SEQUENCE", "cannot handle updates: version overflows uint64", {
          version,
        });
      }
      this.credit1(1, size);
      this.sequence(sub, version);
      const held = sub.held.get(key);
      if (held !== undefined && version <= held) {
        throw new DeltaframeError(
          "DF_ERR_SEQUENCE",
          "cannot handle updates: version not after the held one",
          {
            key,
            version,
            held,
          },
        );
      }
      if (kind === "remove") sub.held.delete(key);
      else sub.held.set(key, version);
      if (kind !== "patch") sub.resyncKeys.delete(key);
      const gap = u.baseGaps.length > 0 ? u.baseGaps[i]! : 0n;
      this.push(
        {
          type: "update",
          stream: sub.stream,
          key,
          version,
          kind,
          body,
          ...(kind === "patch" && gap > 0n ? { base: version - gap } : {}),
          ...(u.hashes.length > 0 ? { hash: u.hashes[i]! } : {}),
        },
        1,
        size,
        true,
      );
    }
  }

  /** Returns the subscription for data on `alias`: undefined for one the client ended; throws for unknown or syncing. */
  private liveAlias(alias: number, what: string): CSub | undefined {
    const sub = this.aliasOf(alias);
    if (sub === undefined) return undefined;
    if (sub.syncing || !sub.laneStarted) {
      throw new DeltaframeError("DF_ERR_PROTOCOL", `cannot handle ${what}: live data during a snapshot`, {
        alias,
      });
    }
    return sub;
  }

  private aliasOf(alias: number): CSub | undefined {
    const sub = this.byAlias.get(alias);
    if (sub !== undefined) return sub;
    if (alias === 0 || alias > this.maxAlias) {
      throw new DeltaframeError("DF_ERR_ALIAS_UNKNOWN", "cannot handle frame: unknown alias", { alias });
    }
    return undefined;
  }

  /** Live-lane order: strictly increasing; gaps only within the announced skip budget. */
  private sequence(sub: CSub, offset: bigint): void {
    if (offset < sub.expected) {
      throw new DeltaframeError("DF_ERR_SEQUENCE", "cannot handle data: duplicate or backwards offset", {
        offset,
        expected: sub.expected,
      });
    }
    const gap = offset - sub.expected;
    if (gap > sub.budget) {
      throw new DeltaframeError("DF_ERR_SEQUENCE", "cannot handle data: gap not announced by skipped", {
        offset,
        expected: sub.expected,
        announced: sub.budget,
      });
    }
    sub.budget -= gap;
    sub.expected = offset + 1n;
  }

  /** Counts one received data item against the granted credit. */
  private credit1(messages: number, bytes: number): void {
    this.window.receive(bytes, messages);
    this.metrics.dataIn++;
  }

  /** Consumes data at once (delivered with autoConsume, or for an ended subscription) and schedules its ack. */
  private consumeNow(messages: number, bytes: number): void {
    this.window.consume(bytes, messages);
    if (!this.isClosed) this.maybeAck(this.now);
  }

  private push(event: ClientEvent, messages: number, bytes: number, data: boolean): void {
    this.emit(event);
    this.pendingMeta.push({ event, messages, bytes, data });
    if (data && !this.opts.autoConsume) this.unconsumed.push({ messages, bytes });
  }

  protected override onEventPolled(e: ClientEvent): void {
    const meta = this.pendingMeta[this.pendingMetaHead];
    if (meta === undefined || meta.event !== e) return;
    this.pendingMeta[this.pendingMetaHead] = undefined as unknown as Pending;
    this.pendingMetaHead++;
    if (this.pendingMetaHead === this.pendingMeta.length) {
      this.pendingMeta.length = 0;
      this.pendingMetaHead = 0;
    }
    if (meta.data && this.opts.autoConsume) this.consumeNow(meta.messages, meta.bytes);
  }

  private maybeAck(now: number): void {
    if (!this.isOpen() || !this.window.unacked) return;
    if (this.window.ackDue) this.sendAck();
    else if (this.ackDeadline === undefined) this.ackDeadline = now + this.opts.ackDelayMs;
  }

  private sendAck(withWindow = false): void {
    const { messages, bytes } = this.window.ack();
    this.queue(
      frame({
        case: "ack",
        value: create(AckSchema, {
          messages: BigInt(messages),
          bytes: BigInt(bytes),
          windowMessages: withWindow ? this.window.windowMessages : 0,
          windowBytes: withWindow ? this.window.windowBytes : 0,
        }),
      }),
    );
    this.ackDeadline = undefined;
    this.metrics.acksOut++;
  }

  protected override beforeTransmit(): void {
    // Piggy-back: any consumption not yet acknowledged rides along with frames going out anyway.
    if (this.outbox.length > 0 && this.isOpen() && !this.closeQueued) {
      if (this.window.unacked) this.sendAck();
    }
  }

  protected override beforeClose(): void {
    if (this.isOpenBeforeClose && this.window.unacked) {
      this.sendAck();
    }
  }

  private get isOpenBeforeClose(): boolean {
    return this.welcomeDeadline === undefined && this.window.windowMessages > 0;
  }

  protected onTimeout(now: number): void {
    if (this._state === "hello-sent" && this.welcomeDeadline !== undefined && now >= this.welcomeDeadline) {
      this.fail(new DeltaframeError("DF_ERR_AUTH_TIMEOUT", "cannot connect: no welcome in time"), "timeout");
      return;
    }
    if (this.ackDeadline !== undefined && now >= this.ackDeadline) this.sendAck();
  }

  protected nextDeadline(): number | undefined {
    if (this._state === "hello-sent") return this.welcomeDeadline;
    return this.ackDeadline;
  }

  protected canPing(): boolean {
    return this.isOpen();
  }
}
