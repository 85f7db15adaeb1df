/**
 * What the server and client sessions share: the outbox packed into transport
 * messages, the event queue, metrics, heartbeats and the idle deadline, and
 * the close paths (local close, peer close, remote violation).
 *
 * Invariants: once a Close frame is queued nothing is queued after it, and once
 * it has been handed out by `pollTransmit` nothing more is; once the "closed"
 * event is queued no further event is; a remote violation discards queued
 * frames and queues only the Close.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { DeltaframeError, isDeltaframeError } from "../errors.js";
import { CloseSchema, type Frame, PingSchema, PongSchema } from "../gen/deltaframe/v1/frames_pb.js";
import type { Limits } from "../limits.js";
import type { Transition } from "./transitions.js";
import type { ClosedEvent, RttEvent, SessionMetrics } from "./types.js";
import { newMetrics } from "./types.js";
import {
  batchEntryBytes,
  decodeMessage,
  EncodedMessage,
  encodeFrameBytes,
  encodeMessage,
  fitsMessage,
  frame,
  MESSAGE_OVERHEAD_BYTES,
  type WireCompression,
} from "./wire.js";

/** The states every session kind has. */
type CommonState = "closed" | "errored";
/** The triggers every session kind has. */
type CommonTrigger = "close" | "peer-close" | "violation" | "timeout";

const textEncoder = new TextEncoder();

/** Longest close or unsubscribe reason, in UTF-8 bytes (a WebSocket close reason). */
export const MAX_REASON_BYTES = 123;

/** Returns `reason` cut to at most 123 UTF-8 bytes on a character boundary. */
export function clipReason(reason: string): string {
  if (textEncoder.encode(reason).length <= MAX_REASON_BYTES) return reason;
  let out = "";
  let bytes = 0;
  for (const ch of reason) {
    const n = textEncoder.encode(ch).length;
    if (bytes + n > MAX_REASON_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** Returns the UTF-8 length of a string. */
export function utf8Bytes(s: string): number {
  return textEncoder.encode(s).length;
}

/** Throws DF_ERR_INVALID_ARGUMENT unless `now` is a finite number. */
export function checkNow(now: number, operation: string): void {
  if (typeof now !== "number" || !Number.isFinite(now)) {
    throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", `cannot ${operation}: now must be a finite number`, {
      now,
    });
  }
}

/** Close codes an application may send. */
export function checkCloseCode(code: number, reason: string, operation: string): void {
  const ok =
    Number.isInteger(code) &&
    (code === 1000 ||
      code === 1001 ||
      code === 1008 ||
      code === 1011 ||
      code === 1012 ||
      code === 1013 ||
      (code >= 3000 && code <= 4999));
  if (!ok) {
    throw new DeltaframeError(
      "DF_ERR_INVALID_ARGUMENT",
      `cannot ${operation}: close code ${code} not allowed`,
      {
        code,
      },
    );
  }
  if (utf8Bytes(reason) > MAX_REASON_BYTES) {
    throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", `cannot ${operation}: reason over 123 bytes`, {
      bytes: utf8Bytes(reason),
    });
  }
}

/** Reconnect hint sent with a close. */
export interface CloseHint {
  /** Reconnect no sooner than this, in ms. Default 0 (no hint). */
  retryAfterMs: number;
  /** Spread reconnects over this window, in ms. Default 0. */
  jitterMs: number;
}

/** Base of {@link ServerSession} and {@link ClientSession}. */
export abstract class Endpoint<S extends string, T extends string, E extends { type: string }> {
  /** Counters (frames, bytes, acks, stalls, conflation, drops, resumes, RTT). */
  readonly metrics: SessionMetrics = newMetrics();
  /** Current lifecycle state. */
  get state(): S | CommonState {
    return this._state;
  }

  protected _state: S | CommonState;
  protected readonly table: ReadonlyArray<Transition<S | CommonState, T | CommonTrigger>>;
  /** The limits this side applies to what it receives (docs/limits.md); adapters size their sockets from them. */
  readonly limits: Readonly<Limits>;
  /** Largest transport message this side sends. */
  protected sendMaxBytes: number;
  protected readonly outbox: Array<Frame | EncodedMessage> = [];
  protected readonly events: E[] = [];
  private eventsHead = 0;
  /** A Close frame is queued; nothing else may be queued. */
  protected closeQueued = false;
  /** The Close frame went out; pollTransmit returns nothing more. */
  private sealed = false;
  /** The "closed" event was queued; no further event is. */
  private closedEmitted = false;
  /** Per-message compression, enabled once CAPABILITY_DEFLATE is negotiated. */
  protected compression: WireCompression = { enabled: false, thresholdBytes: 256, deflater: undefined };
  /** Latest time seen through any input. */
  protected now = 0;
  protected lastReceivedAt = 0;
  protected lastSentAt = 0;
  protected heartbeatMs = 0;
  protected idleTimeoutMs = 0;
  private nextPingId = 1;
  private pendingPing: { id: number; timeMs: number } | undefined;

  protected constructor(
    initial: S,
    table: ReadonlyArray<Transition<S | CommonState, T | CommonTrigger>>,
    limits: Readonly<Limits>,
  ) {
    this._state = initial;
    this.table = table;
    this.limits = limits;
    this.sendMaxBytes = limits.maxMessageBytes;
  }

  /** The remote violation or expired deadline that errored the session, if any. */
  get error(): DeltaframeError | undefined {
    return this._error;
  }

  private _error: DeltaframeError | undefined;

  /** True in the terminal states (closed or errored). */
  get isClosed(): boolean {
    return this._state === "closed" || this._state === "errored";
  }

  /**
   * Handles one transport message from the peer. A protocol violation moves the
   * session to `errored` and queues a Close with the error's close code; it is
   * not thrown. Ignored once closed. Throws only DF_ERR_INVALID_ARGUMENT (bad `now`).
   */
  handleMessage(bytes: Uint8Array, now: number): void {
    checkNow(now, "handle message");
    if (this.isClosed) return;
    this.tick(now);
    this.metrics.messagesIn++;
    this.metrics.bytesIn += bytes.length;
    this.lastReceivedAt = now;
    try {
      const frames = decodeMessage(bytes, this.limits, this.compression);
      for (const f of frames) {
        if (this.isClosed) break;
        this.metrics.framesIn++;
        this.onFrame(f, now);
      }
    } catch (error) {
      if (isDeltaframeError(error) && error.origin === "remote") {
        this.fail(error, "violation");
      } else {
        throw error;
      }
    }
    if (!this.isClosed) this.afterInput(now);
  }

  /** Handles the passage of time: heartbeats, idle and other deadlines. Call at or after `pollTimeout()`. */
  handleTimeout(now: number): void {
    checkNow(now, "handle timeout");
    if (this.isClosed) return;
    this.tick(now);
    if (this.idleTimeoutMs > 0 && now >= this.lastReceivedAt + this.idleTimeoutMs) {
      this.fail(
        new DeltaframeError("DF_ERR_IDLE_TIMEOUT", "cannot keep session: peer idle", {
          idleTimeoutMs: this.idleTimeoutMs,
        }),
        "timeout",
      );
      return;
    }
    this.onTimeout(now);
    if (this.isClosed) return;
    if (this.heartbeatMs > 0 && this.canPing() && now >= this.lastSentAt + this.heartbeatMs) {
      this.ping(now);
    }
    this.afterInput(now);
  }

  /** Returns the next deadline (ms, same clock as `now`), or undefined when none. */
  pollTimeout(): number | undefined {
    if (this.isClosed) return undefined;
    let t = this.nextDeadline();
    const consider = (d: number | undefined) => {
      if (d !== undefined && (t === undefined || d < t)) t = d;
    };
    if (this.idleTimeoutMs > 0 && this.canPing()) consider(this.lastReceivedAt + this.idleTimeoutMs);
    if (this.heartbeatMs > 0 && this.canPing()) consider(this.lastSentAt + this.heartbeatMs);
    return t;
  }

  /** Returns the next application event, or undefined when none is queued. */
  pollEvent(): E | undefined {
    if (this.eventsHead >= this.events.length) return undefined;
    const e = this.events[this.eventsHead]!;
    this.events[this.eventsHead] = undefined as unknown as E;
    this.eventsHead++;
    if (this.eventsHead === this.events.length) {
      this.events.length = 0;
      this.eventsHead = 0;
    }
    this.onEventPolled(e);
    return e;
  }

  /** Number of events queued and not yet polled. */
  get pendingEvents(): number {
    return this.events.length - this.eventsHead;
  }

  /**
   * Returns the next transport message to send (frames batched up to the
   * negotiated message size), or undefined when nothing is queued or the
   * session's Close has been sent.
   */
  pollTransmit(): Uint8Array | undefined {
    if (this.sealed) return undefined;
    this.sealPending();
    this.beforeTransmit();
    if (this.outbox.length === 0) return undefined;
    const head = this.outbox[0]!;
    if (head instanceof EncodedMessage) {
      // Encoded once for many sessions (a shared batch): sent as it is.
      this.outbox.shift();
      this.metrics.sharedMessagesOut++;
      this.countOut(head.bytes, head.frameCount);
      return head.bytes;
    }
    // Each frame is encoded once; frames are packed up to the negotiated message size.
    const budget = this.sendMaxBytes - MESSAGE_OVERHEAD_BYTES;
    const parts: Uint8Array[] = [];
    let used = 0;
    let last: Frame | undefined;
    while (parts.length < this.outbox.length) {
      const f = this.outbox[parts.length]!;
      if (f instanceof EncodedMessage) break;
      const bytes = encodeFrameBytes(f);
      const size = batchEntryBytes(bytes.length);
      if (!fitsMessage(parts.length, used, size, budget, this.limits.maxFramesPerBatch)) break;
      used += size;
      parts.push(bytes);
      last = f;
    }
    this.outbox.splice(0, parts.length);
    const bytes = encodeMessage(parts, this.compression);
    this.countOut(bytes, parts.length);
    if (last?.body.case === "close") {
      this.sealed = true;
      this.outbox.length = 0;
    }
    return bytes;
  }

  private countOut(bytes: Uint8Array, frameCount: number): void {
    this.metrics.messagesOut++;
    this.metrics.framesOut += frameCount;
    this.metrics.bytesOut += bytes.length;
    this.lastSentAt = this.now;
  }

  /** Frames (and shared transport messages) queued and not yet handed out by pollTransmit. */
  get pendingFrames(): number {
    if (!this.sealed) this.sealPending();
    return this.outbox.length;
  }

  protected abstract onFrame(f: Frame, now: number): void;
  protected abstract onTimeout(now: number): void;
  protected abstract nextDeadline(): number | undefined;
  /** Runs after each input that leaves the session open (flush data, acks). */
  protected afterInput(_now: number): void {}
  protected beforeTransmit(): void {}
  /** Moves frames still being assembled (an open `Updates` run) into the outbox. */
  protected sealPending(): void {}
  protected onEventPolled(_e: E): void {}
  /** Whether heartbeats and the idle deadline run in the current state. */
  protected abstract canPing(): boolean;
  /** Releases per-session memory once closed. */
  protected onClosed(): void {}

  protected tick(now: number): void {
    if (now > this.now) this.now = now;
  }

  protected queue(f: Frame): void {
    if (this.closeQueued) return;
    this.outbox.push(f);
  }

  protected emit(e: E): void {
    if (this.closedEmitted) return;
    if (e.type === "closed") this.closedEmitted = true;
    this.events.push(e);
  }

  protected move(on: T | CommonTrigger, operation: string): void {
    for (const row of this.table) {
      if (row.from === this._state && row.on === on) {
        this._state = row.to;
        return;
      }
    }
    throw new DeltaframeError("DF_ERR_INVALID_STATE", `cannot ${operation}: session is ${this._state}`, {
      state: this._state,
      trigger: on,
    });
  }

  protected canMove(on: T | CommonTrigger): boolean {
    return this.table.some((row) => row.from === this._state && row.on === on);
  }

  /** Remote violation or expired deadline: sticky errored state, discard queued frames, queue Close. */
  protected fail(error: DeltaframeError, on: "violation" | "timeout"): void {
    if (this.isClosed) return;
    this.move(on, "fail");
    this._error = error;
    this.outbox.length = 0;
    const reason = clipReason(error.message);
    this.outbox.push(frame({ case: "close", value: create(CloseSchema, { code: error.closeCode, reason }) }));
    this.closeQueued = true;
    this.emit({
      type: "closed",
      initiator: "error",
      code: error.closeCode,
      reason,
      retryAfterMs: 0,
      jitterMs: 0,
      error: error.code,
    } as ClosedEvent as unknown as E);
    this.onClosed();
  }

  /** Local close: queued frames go first, then the Close. Validates before changing anything. */
  protected closeLocal(
    code: number,
    reason: string,
    hint: Partial<CloseHint>,
    operation: string,
    on: T | "close",
  ): void {
    checkCloseCode(code, reason, operation);
    const retryAfterMs = hint.retryAfterMs ?? 0;
    const jitterMs = hint.jitterMs ?? 0;
    for (const [name, v] of [
      ["retryAfterMs", retryAfterMs],
      ["jitterMs", jitterMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) {
        throw new DeltaframeError(
          "DF_ERR_INVALID_ARGUMENT",
          `cannot ${operation}: ${name} must be a uint32`,
          {
            [name]: v,
          },
        );
      }
    }
    this.move(on, operation);
    this.beforeClose();
    this.queue(
      frame({ case: "close", value: create(CloseSchema, { code, reason, retryAfterMs, jitterMs }) }),
    );
    this.closeQueued = true;
    this.emit({
      type: "closed",
      initiator: "local",
      code,
      reason,
      retryAfterMs,
      jitterMs,
    } as ClosedEvent as unknown as E);
    this.onClosed();
  }

  /** Hook run before a local Close is queued (the client sends its final ack). */
  protected beforeClose(): void {}

  /** The peer closed: no reply, nothing more is sent. */
  protected peerClosed(code: number, reason: string, retryAfterMs: number, jitterMs: number): void {
    this.move("peer-close", "handle close");
    this.outbox.length = 0;
    this.closeQueued = true;
    this.sealed = true;
    this.emit({
      type: "closed",
      initiator: "remote",
      code,
      reason,
      retryAfterMs,
      jitterMs,
    } as ClosedEvent as unknown as E);
    this.onClosed();
  }

  protected ping(now: number): void {
    const id = this.nextPingId;
    this.nextPingId = this.nextPingId >= 0xffffffff ? 1 : this.nextPingId + 1;
    this.pendingPing = { id, timeMs: now };
    this.queue(
      frame({
        case: "ping",
        value: create(PingSchema, { id, timeMs: BigInt(Math.max(0, Math.floor(now))) }),
      }),
    );
    this.metrics.pingsSent++;
    this.lastSentAt = now;
  }

  protected onPing(id: number, timeMs: bigint, now: number): void {
    this.queue(
      frame({
        case: "pong",
        value: create(PongSchema, { id, pingTimeMs: timeMs, timeMs: BigInt(Math.max(0, Math.floor(now))) }),
      }),
    );
  }

  protected onPong(id: number, pingTimeMs: bigint, peerTimeMs: bigint, now: number): void {
    const p = this.pendingPing;
    // A pong for an older or unknown ping is harmless: ignored.
    if (p === undefined || p.id !== id || BigInt(Math.max(0, Math.floor(p.timeMs))) !== pingTimeMs) return;
    this.pendingPing = undefined;
    const rttMs = Math.max(0, now - p.timeMs);
    const clockOffsetMs = Number(peerTimeMs) - (p.timeMs + rttMs / 2);
    this.metrics.pongsReceived++;
    this.metrics.rttMs = rttMs;
    this.metrics.clockOffsetMs = clockOffsetMs;
    this.emit({ type: "rtt", rttMs, clockOffsetMs } as RttEvent as unknown as E);
  }
}
