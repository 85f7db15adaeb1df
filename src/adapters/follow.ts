/**
 * Following one stream from the client side: apply a client session's
 * events to a delta `Replica`, ask for keys again when a patch cannot be
 * applied, and reconnect and resume when the connection drops. Transport
 * independent: a `connect` function opens the transport (the `ws` or WHATWG
 * adapter), so the same follower runs in Node and in browsers.
 *
 * @module
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { Replica } from "../delta/index.js";
import { ERROR_CODES } from "../errors.js";
import { SyncMode } from "../gen/deltaframe/v1/frames_pb.js";
import {
  type ClientEvent,
  ClientSession,
  type ClientSessionOptions,
  ReconnectPolicy,
  type ReconnectPolicyOptions,
  type ResumeState,
  resumeStateFor,
  type SubscribeOptions,
} from "../session/index.js";
import type { TransportClosedEvent } from "./driver.js";

/** What a follower counts. */
export interface FollowMetrics {
  /** Connections opened. */
  connects: number;
  /** Welcomes that resumed the previous session. */
  resumes: number;
  /** Snapshots (full or catch-up) begun. */
  snapshots: number;
  /** Keyed updates applied. */
  updates: number;
  /** Events received. */
  events: number;
  /** Keys asked for again (missing base, hash mismatch). */
  resyncs: number;
  /** Updates the server folded into later ones (conflation), as announced. */
  conflated: number;
  /** Events the server dropped, as announced. */
  droppedEvents: number;
  /** Events whose offset did not increase (a duplicate or reordering: must stay 0). */
  eventOrderErrors: number;
  /** Latest round-trip time, in ms (-1 before the first). */
  rttMs: number;
  /** Update bodies the replica refused (malformed): each key is asked for again (resync reason 3). */
  applyErrors: number;
  /** Subscriptions the server ended as a slow consumer (4009), resumed on a new connection. */
  resubscribes: number;
}

/**
 * Applies one client event to `replica`: snapshot begin (full snapshots
 * clear the replica), snapshot entries and removals, updates (a base that is
 * not held or a hash mismatch asks the session to resync the key). Returns
 * true when the event changed the replica. Throws the replica's errors for a
 * malformed body (the peer's fault).
 */
export function applyToReplica<Desc extends DescMessage>(
  replica: Replica<Desc>,
  session: ClientSession,
  event: ClientEvent,
  now: number,
  metrics?: FollowMetrics,
): boolean {
  switch (event.type) {
    case "snapshot-begin":
      if (metrics) metrics.snapshots++;
      if (event.mode === SyncMode.SNAPSHOT) replica.clear();
      return event.mode === SyncMode.SNAPSHOT;
    case "snapshot":
      for (const e of event.entries)
        replica.applyUpdate({ key: e.key, kind: "full", version: e.version, body: e.value });
      for (const key of event.removed) replica.delete(key);
      return true;
    case "update": {
      const result = replica.applyUpdate({
        key: event.key,
        kind: event.kind,
        version: event.version,
        body: event.body,
        baseVersion: event.base,
        hash: event.hash,
      });
      if (result.type === "resync") {
        if (metrics) metrics.resyncs++;
        replica.delete(event.key);
        session.resync(event.stream, [event.key], result.error.code === "DF_ERR_HASH_MISMATCH" ? 2 : 1, now);
        return false;
      }
      if (metrics) metrics.updates++;
      return true;
    }
    default:
      return false;
  }
}

/** A transport opened by a follower: the adapter's connection. */
export interface FollowTransport {
  /** Sends what the session queued. */
  flush(): void;
}

/** Opens a transport for `session`: call `onOpen` once open, `onEvent` for every event. */
export type FollowConnect = (
  session: ClientSession,
  handlers: {
    onOpen: (now: number) => void;
    onEvent: (event: ClientEvent | TransportClosedEvent) => void;
  },
) => FollowTransport;

/** Options of {@link Follower}. */
export interface FollowerOptions<Desc extends DescMessage> {
  /** Schema of the stream's values (required). */
  schema: Desc;
  /** Stream to follow (required). */
  stream: string;
  /** Opens a transport (required): e.g. `(s, h) => connectWs(url, s, h)`. */
  connect: FollowConnect;
  /** Uniform random numbers in [0, 1) for reconnect jitter (required). */
  random: () => number;
  /**
   * Client session options (window, auto-consume, limits). The follower
   * applies every event to its replica as it arrives; with `autoConsume:
   * false` the application grants the credit itself, at its own pace
   * (`follower.session.consume(n, now)`, then `follower.transport.flush()`),
   * and the feed stops after `windowMessages` updates until it does.
   */
  session: Partial<ClientSessionOptions>;
  /** Subscription options (slow policy, event buffer). */
  subscribe: Partial<SubscribeOptions>;
  /** Reconnect backoff. Default base 50 ms, cap 2 s. */
  reconnect: Partial<Omit<ReconnectPolicyOptions, "random">>;
  /** Sees every event after the follower handled it. */
  onEvent: (event: ClientEvent | TransportClosedEvent, follower: Follower<Desc>) => void;
  /** Clock in ms. Default `Date.now`. */
  clock: () => number;
}

/**
 * Follows one stream into a {@link Replica} across reconnects: on a dropped
 * connection it waits per the reconnect policy, then opens a new session
 * that resumes the old one (token, offset, per-key versions), so the server
 * replays, catches up or sends a snapshot — never a silent gap.
 */
export class Follower<Desc extends DescMessage> {
  /** The replica of the stream. */
  readonly replica: Replica<Desc>;
  /** Counters. */
  readonly metrics: FollowMetrics = {
    connects: 0,
    resumes: 0,
    snapshots: 0,
    updates: 0,
    events: 0,
    resyncs: 0,
    conflated: 0,
    droppedEvents: 0,
    eventOrderErrors: 0,
    rttMs: -1,
    applyErrors: 0,
    resubscribes: 0,
  };
  /** The last error a refused update body raised, for diagnostics. */
  lastApplyError: unknown;
  /** Offsets of the events received, in order (for exactly-once checks). */
  readonly eventOffsets: bigint[] = [];
  private readonly opts: FollowerOptions<Desc>;
  private readonly policy: ReconnectPolicy;
  private _session: ClientSession | undefined;
  private _transport: FollowTransport | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private lastEventOffset = 0n;
  /** Epoch of the stream as last subscribed (offsets start again in a new one). */
  private epoch = 0n;
  /** What the current connection resumed from, and whether its subscription was answered. */
  private resumedFrom: ResumeState | undefined;
  private answered = false;
  /** Resolves waiters of {@link whenWelcomed}. */
  private welcomed: Array<() => void> = [];

  /** Creates a follower; call {@link start}. */
  constructor(
    options: Partial<FollowerOptions<Desc>> &
      Pick<FollowerOptions<Desc>, "schema" | "stream" | "connect" | "random">,
  ) {
    this.opts = {
      session: {},
      subscribe: {},
      reconnect: {},
      onEvent: () => {},
      clock: () => Date.now(),
      ...options,
    };
    this.replica = new Replica(options.schema, { limits: options.session?.limits ?? {} });
    this.policy = new ReconnectPolicy({
      baseMs: 50,
      maxMs: 2000,
      ...this.opts.reconnect,
      random: options.random,
    });
  }

  /** The current session (undefined before start). */
  get session(): ClientSession | undefined {
    return this._session;
  }

  /** The current transport. */
  get transport(): FollowTransport | undefined {
    return this._transport;
  }

  /** True while not stopped. */
  get running(): boolean {
    return !this.stopped;
  }

  /** Opens the first connection. */
  start(): void {
    this.open(undefined);
  }

  /** Stops following: closes the session (1000) and reconnects no more. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const s = this._session;
    if (s !== undefined && !s.isClosed) {
      try {
        s.close(1000, "done", this.opts.clock());
      } catch {
        // Already closing.
      }
      this._transport?.flush();
    }
  }

  /** Resolves at the next welcome. */
  whenWelcomed(): Promise<void> {
    return new Promise((resolve) => this.welcomed.push(resolve));
  }

  private open(resume: ResumeState | undefined): void {
    if (this.stopped) return;
    const session = new ClientSession({ ...this.opts.session, resume });
    this._session = session;
    this.resumedFrom = resume;
    this.answered = false;
    this.metrics.connects++;
    const resumesStream = resume?.subscriptions.some((s) => s.stream === this.opts.stream) ?? false;
    this._transport = this.opts.connect(session, {
      onOpen: (now) => {
        session.connect(now);
        if (!resumesStream) session.subscribe(this.opts.stream, this.opts.subscribe, now);
      },
      onEvent: (event) => this.handle(session, event),
    });
  }

  /**
   * A body the replica cannot apply (malformed, or not of this schema) leaves
   * the key unchanged; ask for the key (or, for a snapshot, the stream) again
   * rather than keep a replica that no longer matches the versions the
   * session holds. Where a resync cannot be sent, leave the connection (1011)
   * and resume on a new one.
   */
  private refused(session: ClientSession, event: ClientEvent, error: unknown, now: number): void {
    this.metrics.applyErrors++;
    this.lastApplyError = error;
    try {
      if (event.type === "update") {
        this.replica.delete(event.key);
        session.resync(event.stream, [event.key], 3, now);
      } else if (event.type === "snapshot") {
        session.resync(event.stream, [], 3, now);
      }
    } catch {
      if (!session.isClosed) session.close(1011, "cannot apply update", now);
    }
    this._transport?.flush();
  }

  /**
   * A connection that dropped before its subscription was answered has not
   * moved the replica: resume from the position the connection itself
   * resumed from, not from nothing (which would become a fresh snapshot and
   * skip the events in between).
   */
  private carryPosition(state: ResumeState): ResumeState {
    if (this.answered || this.resumedFrom === undefined) return state;
    const previous = this.resumedFrom.subscriptions.find((s) => s.stream === this.opts.stream);
    if (previous === undefined) return state;
    return {
      token: state.token,
      subscriptions: state.subscriptions.map((s) =>
        s.stream === this.opts.stream && s.epoch === 0n ? previous : s,
      ),
    };
  }

  private handle(session: ClientSession, event: ClientEvent | TransportClosedEvent): void {
    if (session !== this._session) return;
    const now = this.opts.clock();
    switch (event.type) {
      case "welcome":
        if (event.resumed) this.metrics.resumes++;
        for (const w of this.welcomed.splice(0)) w();
        break;
      case "subscribed":
        if (event.stream === this.opts.stream) {
          this.answered = true;
          // Backoff starts over once a connection has served the stream (not at a welcome alone, so a
          // server that accepts and then fails every connection still gets an increasing delay).
          if (event.mode === SyncMode.REPLAY) this.policy.reset();
          if (event.epoch !== this.epoch) {
            this.epoch = event.epoch;
            this.lastEventOffset = 0n;
          }
        }
        break;
      case "event":
        this.metrics.events++;
        if (event.offset <= this.lastEventOffset) this.metrics.eventOrderErrors++;
        this.lastEventOffset = event.offset;
        this.eventOffsets.push(event.offset);
        break;
      case "skipped":
        this.metrics.conflated += Number(event.conflatedUpdates);
        this.metrics.droppedEvents += Number(event.droppedEvents);
        break;
      case "rtt":
        this.metrics.rttMs = event.rttMs;
        break;
      case "closed":
        this.onClosed(session, event);
        break;
      case "unsubscribed":
        if (event.stream === this.opts.stream) this.onUnsubscribed(session, event.code, now);
        break;
      case "snapshot-end":
        if (event.stream === this.opts.stream) this.policy.reset();
        break;
      default:
        // Also once closed: the session already counts these as held, and a resume declares them
        // (a key the replica refuses is then only forgotten: resync on a closed session).
        try {
          applyToReplica(this.replica, session, event as ClientEvent, now, this.metrics);
        } catch (error) {
          this.refused(session, event as ClientEvent, error, now);
        }
    }
    this.opts.onEvent(event, this);
  }

  /**
   * The server ended the subscription; the connection goes on. After 4009
   * (slow consumer) the follower leaves the connection (1001) and resumes on
   * a new one, with a fresh window, as docs/protocol.md §14 says; any other
   * code (1009 a value too large for this client, 4015 unknown stream, 1008)
   * would be refused again, so it stops (`running` false; `onEvent` has
   * seen the code).
   */
  private onUnsubscribed(session: ClientSession, code: number, now: number): void {
    if (this.stopped || session.isClosed) return;
    if (code === ERROR_CODES.DF_ERR_SLOW_CONSUMER.closeCode) {
      this.metrics.resubscribes++;
      session.close(1001, "resuming after slow consumer", now);
      this._transport?.flush();
    } else {
      this.stop();
    }
  }

  private onClosed(
    session: ClientSession,
    event: { code: number; retryAfterMs: number; jitterMs: number },
  ): void {
    if (this.stopped || event.code === 1000) {
      this.stopped = true;
      return;
    }
    const decision = this.policy.next({
      code: event.code,
      retryAfterMs: event.retryAfterMs,
      jitterMs: event.jitterMs,
    });
    if (decision === undefined) {
      this.stopped = true;
      return;
    }
    const resume = resumeStateFor(this.carryPosition(session.resumeState()), event, decision);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.open(resume);
    }, decision.delayMs);
  }
}
