/**
 * Types shared by the server and client sessions: the events they emit, the
 * interfaces the server needs from keyed state, tokens and the retained log.
 *
 * @module
 */
import type { SlowPolicy, SyncMode } from "../gen/deltaframe/v1/frames_pb.js";

/** The kind of an update body: a full value, a patch against the held version, or a removal. */
export type ChangeKind = "full" | "patch" | "remove";

/** One key's change, as bytes: what a keyed state hands to the session. */
export interface KeyChange {
  /** Full value, patch against `base`, or removal (empty body). */
  readonly kind: ChangeKind;
  /** Version (stream offset) the key has after the change. */
  readonly version: bigint;
  /** The body: the encoded value, the patch operations, or empty for a removal. */
  readonly body: Uint8Array;
  /** Canonical hash of the resulting value, when known (CAPABILITY_HASH). */
  readonly hash?: bigint;
}

/** One key's current value. */
export interface KeyEntry {
  /** The key. */
  readonly key: string;
  /** Version (stream offset of its last change). */
  readonly version: bigint;
  /** The value, protobuf-encoded. */
  readonly value: Uint8Array;
}

/**
 * What a server session needs from one stream's keyed state. A delta
 * `KeyedState` implements it or is adapted to it; the session never decodes
 * values or patches.
 *
 * Contract: the application applies a change to the source, then publishes it
 * to its sessions in the same turn ({@link ServerSession.publish}), so that the
 * source never lags behind what was published.
 */
export interface KeyedSource {
  /** Current epoch; a new epoch means history was lost. */
  readonly epoch: bigint;
  /** Offset of the latest change (0 for none). */
  readonly offset: bigint;
  /** The current keys (any order). */
  keys(): Iterable<string>;
  /** The key's current value and version, or undefined when absent. */
  get(key: string): KeyEntry | undefined;
  /**
   * One change that takes a receiver holding `heldVersion` of `key` (undefined:
   * holds nothing) to the latest state: a patch when cheaper, else full, or a
   * removal when the key is gone. Undefined when nothing needs sending (the
   * receiver is up to date, or the key is absent and not held).
   */
  change(key: string, heldVersion: bigint | undefined): KeyChange | undefined;
  /**
   * The stream-wide key id of `key`, optional: a positive integer, the same
   * for every session and never given to another key by this source. When
   * present, sessions name the key with it instead of numbering keys per
   * subscription, so that frames encoded once can be shared between them
   * ({@link SharedBatch}; docs/protocol.md §2).
   */
  keyId?(key: string): number;
  /**
   * Canonical hash of the whole current state, optional. When present and
   * CAPABILITY_HASH is in force, a full snapshot ends with it (`SnapshotEnd.hash`)
   * whenever the client's state equals the source's at that moment.
   */
  stateHash?(): bigint;
}

/** A keyed change published to a server session. */
export interface PublishedChange {
  /** Discriminant. */
  readonly type: "change";
  /** The key. */
  readonly key: string;
  /** Stream offset of this change (the key's new version). */
  readonly offset: bigint;
  /** Full value, patch against `base`, or removal. */
  readonly kind: ChangeKind;
  /** The body (empty for a removal). */
  readonly body: Uint8Array;
  /** For a patch: the version it applies to. Without it the session asks the source for a change. */
  readonly base?: bigint;
  /** Canonical hash of the result, optional. */
  readonly hash?: bigint;
}

/** A lossless event published to a server session. */
export interface PublishedEvent {
  /** Discriminant. */
  readonly type: "event";
  /** Stream offset of the event. */
  readonly offset: bigint;
  /** Application payload. */
  readonly payload: Uint8Array;
}

/** One item of {@link ServerSession.publish}: a keyed change or an event, in stream-offset order. */
export type PublishItem = PublishedChange | PublishedEvent;

/** Signs and verifies resume tokens (HMAC in practice). Injected so the session stays pure. */
export interface TokenSigner {
  /** Id of the key `sign` uses; carried in the token so keys can rotate. */
  readonly keyId: number;
  /** Returns the signature of `data`. */
  sign(data: Uint8Array): Uint8Array;
  /** Returns true when `signature` is a valid signature of `data` under key `keyId`. */
  verify(keyId: number, data: Uint8Array, signature: Uint8Array): boolean;
}

/** Result of consuming a resume token. */
export type TokenConsumeResult = "ok" | "reused" | "unknown";

/**
 * Records issued resume tokens and consumes each at most once, atomically (a
 * shared store in a cluster; {@link InMemoryTokenStore} in one process).
 */
export interface TokenStore {
  /** Records that token `generation` of `sessionId` was issued. */
  issue(sessionId: string, generation: number, expiresAtMs: number): void;
  /** Consumes the token: "ok" the first time, "reused" after, "unknown" if never issued. */
  consume(sessionId: string, generation: number, nowMs: number): TokenConsumeResult;
}

/** One retained change of a stream: a keyed change or an event. */
export type RetainedEntry = PublishItem;

/**
 * The retained log of recent stream changes that resumes are replayed from.
 * Behind an interface so it can live in a shared store; {@link InMemoryRetainedLog}
 * is the default. Entries of one stream have strictly increasing offsets within
 * one epoch; the log is cleared when the epoch changes.
 */
export interface RetainedLog {
  /** Appends one change or event of `stream`. */
  append(stream: string, entry: RetainedEntry): void;
  /** Returns up to `max` entries of `stream` with offset ≥ `fromOffset`, in order. */
  read(stream: string, fromOffset: bigint, max: number): RetainedEntry[];
  /** Offset of the oldest retained entry of `stream`, or undefined when none is retained. */
  oldestOffset(stream: string): bigint | undefined;
}

/** Counters of one session, readable at any time through `session.metrics`. */
export interface SessionMetrics {
  /** Transport messages received. */
  messagesIn: number;
  /** Transport messages sent. */
  messagesOut: number;
  /** Frames received. */
  framesIn: number;
  /** Frames sent. */
  framesOut: number;
  /** Transport bytes received. */
  bytesIn: number;
  /** Transport bytes sent. */
  bytesOut: number;
  /** Data items (update entries, events, snapshot entries) received. */
  dataIn: number;
  /** Data items sent. */
  dataOut: number;
  /** Transport messages sent as a hub encoded them for many sessions (a subset of `messagesOut`; server only). */
  sharedMessagesOut: number;
  /** Ack frames received. */
  acksIn: number;
  /** Ack frames sent. */
  acksOut: number;
  /** Times the sender had data but no credit. */
  creditStalls: number;
  /** Updates folded into later ones (conflation, rate limits). */
  conflatedUpdates: number;
  /** Events dropped by SLOW_POLICY_DROP_OLDEST. */
  droppedEvents: number;
  /** Resumes served (server): accepted hellos that carried a valid token. */
  resumesServed: number;
  /** Resumes refused (server): forged, reused, expired or unknown tokens. */
  resumesRefused: number;
  /** Pings sent. */
  pingsSent: number;
  /** Pongs received that answered our outstanding ping. */
  pongsReceived: number;
  /** Latest round-trip time in ms, or -1 before the first pong. */
  rttMs: number;
  /** Latest clock-offset estimate (peer clock minus ours) in ms; 0 before the first pong. */
  clockOffsetMs: number;
}

/** Returns zeroed {@link SessionMetrics}. */
export function newMetrics(): SessionMetrics {
  return {
    messagesIn: 0,
    messagesOut: 0,
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    dataIn: 0,
    dataOut: 0,
    sharedMessagesOut: 0,
    acksIn: 0,
    acksOut: 0,
    creditStalls: 0,
    conflatedUpdates: 0,
    droppedEvents: 0,
    resumesServed: 0,
    resumesRefused: 0,
    pingsSent: 0,
    pongsReceived: 0,
    rttMs: -1,
    clockOffsetMs: 0,
  };
}

/** Why a session closed: who, the close code and reason, and the reconnect hint. */
export interface ClosedEvent {
  /** Discriminant. */
  readonly type: "closed";
  /** "local": this side closed; "remote": the peer closed; "error": the peer broke the protocol or a deadline passed. */
  readonly initiator: "local" | "remote" | "error";
  /** Close code (docs/errors.md). */
  readonly code: number;
  /** Human-readable reason. */
  readonly reason: string;
  /** Reconnect no sooner than this, in ms (0: no hint). */
  readonly retryAfterMs: number;
  /** Spread reconnects over this window, in ms. */
  readonly jitterMs: number;
  /** The error code when `initiator` is "error". */
  readonly error?: string;
}

/** A round-trip measurement from a pong. */
export interface RttEvent {
  /** Discriminant. */
  readonly type: "rtt";
  /** Round-trip time in ms. */
  readonly rttMs: number;
  /** Estimated peer clock minus our clock, in ms. */
  readonly clockOffsetMs: number;
}

/** Events of a {@link ServerSession}. */
export type ServerEvent =
  | {
      /** The client said hello; call `accept` or `reject` (now or later). */
      readonly type: "authenticate";
      /** `Hello.credentials`, opaque to deltaframe. */
      readonly credentials: Uint8Array;
      /** `Hello.agent`, for logs. */
      readonly agent: string;
      /** The protocol version chosen. */
      readonly version: number;
      /** The capabilities that will be in force (bitwise OR of `Capability`). */
      readonly capabilities: number;
      /** Present when the hello carried a valid resume token (already consumed). */
      readonly resume?: { readonly sessionId: Uint8Array };
    }
  | {
      /** A subscription was accepted. */
      readonly type: "subscribed";
      readonly stream: string;
      readonly alias: number;
      readonly mode: SyncMode;
    }
  | {
      /** A subscription ended (by the client, or by the server with a code). */
      readonly type: "unsubscribed";
      readonly stream: string;
      readonly alias: number;
      readonly code: number;
    }
  | {
      /** The client asked for keys (or the stream) again. */
      readonly type: "resync";
      readonly stream: string;
      /** Keys asked for; empty for the whole stream. */
      readonly keys: readonly string[];
      /** 1 missing base, 2 hash mismatch, 3 application request. */
      readonly reason: number;
    }
  | {
      /** Credit returned after a stall: everything pending was sent. */
      readonly type: "writable";
    }
  | RttEvent
  | ClosedEvent;

/** One entry of a snapshot or catch-up, as delivered to the client application. */
export interface SnapshotItem {
  /** The key. */
  readonly key: string;
  /** Its version. */
  readonly version: bigint;
  /** Its value, protobuf-encoded. */
  readonly value: Uint8Array;
}

/** Events of a {@link ClientSession}. */
export type ClientEvent =
  | {
      /** The server accepted the hello; these are the values in force. */
      readonly type: "welcome";
      readonly version: number;
      readonly capabilities: number;
      readonly sessionId: Uint8Array;
      readonly resumed: boolean;
      readonly heartbeatMs: number;
      readonly idleTimeoutMs: number;
      readonly windowMessages: number;
      readonly windowBytes: number;
      readonly maxMessageBytes: number;
    }
  | {
      /** A subscription was accepted; a sync in `mode` follows. */
      readonly type: "subscribed";
      readonly stream: string;
      readonly alias: number;
      readonly epoch: bigint;
      readonly offset: bigint;
      readonly mode: SyncMode;
      readonly policy: SlowPolicy;
      readonly maxBufferedEvents: number;
    }
  | {
      /** A snapshot (mode SNAPSHOT: replace the stream's state) or catch-up begins. */
      readonly type: "snapshot-begin";
      readonly stream: string;
      readonly mode: SyncMode;
      readonly epoch: bigint;
      readonly offset: bigint;
      readonly keyCount: number;
    }
  | {
      /** Entries of a snapshot or catch-up, and keys removed (catch-up). Counts `entries.length` messages. */
      readonly type: "snapshot";
      readonly stream: string;
      readonly entries: readonly SnapshotItem[];
      readonly removed: readonly string[];
    }
  | {
      /** The snapshot or catch-up is complete; live updates follow. */
      readonly type: "snapshot-end";
      readonly stream: string;
      readonly offset: bigint;
      readonly hash: bigint;
    }
  | {
      /** One keyed change. Counts one message. */
      readonly type: "update";
      readonly stream: string;
      readonly key: string;
      readonly version: bigint;
      readonly kind: ChangeKind;
      readonly body: Uint8Array;
      /** Explicit base version of a patch, when the sender named one. */
      readonly base?: bigint;
      /** Canonical hash of the result, when sent. */
      readonly hash?: bigint;
    }
  | {
      /** One lossless event. Counts one message. */
      readonly type: "event";
      readonly stream: string;
      readonly offset: bigint;
      readonly payload: Uint8Array;
    }
  | {
      /** The server folded updates or dropped events for this stream (never silent). */
      readonly type: "skipped";
      readonly stream: string;
      readonly conflatedUpdates: bigint;
      readonly droppedEvents: bigint;
    }
  | {
      /** A subscription ended (by the server with a code, e.g. 4009, or after `unsubscribe`). */
      readonly type: "unsubscribed";
      readonly stream: string;
      readonly code: number;
      readonly reason: string;
    }
  | {
      /** The server will close soon; reconnect elsewhere. */
      readonly type: "drain";
      readonly deadlineMs: number;
      readonly retryAfterMs: number;
      readonly jitterMs: number;
    }
  | RttEvent
  | ClosedEvent;

/** Per-subscription options of {@link ClientSession.subscribe}. */
export interface SubscribeOptions {
  /** Slow-consumer policy. Default: the server's (conflate). */
  policy: SlowPolicy;
  /** Events buffered for a slow consumer before the policy applies; 0 for the server default. */
  maxBufferedEvents: number;
  /** Longest time a conflated key may wait for credit, in ms; 0 for none. */
  maxStalenessMs: number;
  /** At most this many updates per key per second; 0 for no limit. */
  maxRateHz: number;
}
