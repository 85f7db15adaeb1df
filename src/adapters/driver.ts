/**
 * The transport-independent loop that drives one sans-IO session over one
 * message socket: bytes and time go in, transport messages and events come
 * out. The `ws` and WHATWG WebSocket adapters wrap it; it imports no
 * transport, so it runs in browsers, Deno, Bun and Node alike.
 *
 * Theory of operation:
 * - every input (a message, a timer, an application command followed by
 *   {@link SessionDriver.flush}) ends in one flush: events are handed to the
 *   application, then transport messages are drained from `pollTransmit` and
 *   written, corked into one write where the socket allows it;
 * - the socket's `bufferedAmount` is a second pressure signal besides the
 *   session's credit window: above `highWaterMarkBytes` the driver stops
 *   draining and resumes when the socket drains (a drain callback, or a poll
 *   every `drainPollMs` where the transport has none);
 * - exactly one timer is armed, at the session's `pollTimeout()`;
 * - once the session has queued its Close and it has been written, the socket
 *   is closed with the session's close code; a socket that closes first is
 *   reported to the application as a `closed` event with code 1006.
 *
 * @module
 */

/** What a driver needs from a sans-IO session (ServerSession and ClientSession both fit). */
export interface DrivenSession<E extends { readonly type: string }> {
  /** Handles one transport message from the peer. */
  handleMessage(bytes: Uint8Array, now: number): void;
  /** Handles the passage of time; called at or after `pollTimeout()`. */
  handleTimeout(now: number): void;
  /** Returns the next transport message to send, or undefined. */
  pollTransmit(): Uint8Array | undefined;
  /** Returns the next application event, or undefined. */
  pollEvent(): E | undefined;
  /** Returns the next deadline (same clock as `now`), or undefined. */
  pollTimeout(): number | undefined;
  /** True once the session is closed or errored. */
  readonly isClosed: boolean;
}

/** The socket side of a driver: one message-oriented, ordered connection. */
export interface DriverSocket {
  /** False while the connection is still opening: nothing is sent until it is open. Default true. */
  readonly isOpen?: boolean;
  /** Bytes queued by the transport and not yet written to the network. */
  readonly bufferedAmount: number;
  /** Sends one binary message. */
  send(bytes: Uint8Array): void;
  /** Closes the connection with a WebSocket close code and reason. */
  close(code: number, reason: string): void;
  /** Starts combining writes (optional). */
  cork?(): void;
  /** Writes what was combined since `cork` (optional). */
  uncork?(): void;
  /** Calls `callback` once when `bufferedAmount` has drained (optional; else the driver polls). */
  onceDrained?(callback: () => void): void;
}

/** The `closed` event a driver reports when the socket ends before the session closed. */
export interface TransportClosedEvent {
  /** Discriminant. */
  readonly type: "closed";
  /** The peer went away without a Close frame. */
  readonly initiator: "remote";
  /** The WebSocket close code seen (1006 when the connection was lost). */
  readonly code: number;
  /** The close reason seen, or "connection lost". */
  readonly reason: string;
  /** No reconnect hint. */
  readonly retryAfterMs: 0;
  /** No reconnect hint. */
  readonly jitterMs: 0;
  /** Marks an event made by the transport, not the session. */
  readonly transport: true;
}

/**
 * One session running over one socket, as every adapter hands it to the
 * application: the socket, the session, the driver between them, and a
 * flush. `S` is the adapter's socket type; each adapter extends this with
 * its own way to drop the connection (`WsConnection.terminate`,
 * `WebSocketConnection.abort`).
 */
export interface Connection<E extends { readonly type: string }, S = unknown> {
  /** The socket. */
  readonly socket: S;
  /** The session driven over it. */
  readonly session: DrivenSession<E>;
  /** The loop that drives it (metrics, flush). */
  readonly driver: SessionDriver<E>;
  /** Sends what the session has queued; call after giving the session a command. */
  flush(): void;
}

/**
 * Options every adapter's attach and connect functions take (as a
 * `Partial`). `C` is the adapter's connection type, which `onEvent`
 * receives.
 */
export interface ConnectionOptions<
  E extends { readonly type: string },
  C extends Connection<E> = Connection<E>,
> {
  /** Receives every session event, and a {@link TransportClosedEvent} when the socket drops first. */
  onEvent: (event: E | TransportClosedEvent, connection: C) => void;
  /** Driver tuning (high-water mark, drain poll interval, clock). Default the driver's defaults. */
  driver: Partial<DriverOptions>;
}

/** Options of {@link SessionDriver}. */
export interface DriverOptions {
  /** Stop draining the session while the socket buffers more than this, in bytes. Default 1 MiB. */
  highWaterMarkBytes: number;
  /** Poll interval while waiting for the socket to drain, where it has no drain callback, in ms. Default 10. */
  drainPollMs: number;
  /**
   * When the session has closed while the socket is above the high-water
   * mark (a peer that stopped reading), close the socket anyway after this
   * many ms, without waiting for it to drain. Default 5,000.
   */
  closeTimeoutMs: number;
  /** The clock passed to the session as `now`, in ms. Default `Date.now`. */
  clock: () => number;
}

/** Counters of one driver. */
export interface DriverMetrics {
  /** Transport messages written. */
  messagesSent: number;
  /** Bytes written. */
  bytesSent: number;
  /** Transport messages received. */
  messagesReceived: number;
  /** Bytes received. */
  bytesReceived: number;
  /** Times draining stopped because the socket buffered more than the high-water mark. */
  pressureStalls: number;
}

const DEFAULT_OPTIONS: DriverOptions = {
  highWaterMarkBytes: 1 << 20,
  drainPollMs: 10,
  closeTimeoutMs: 5000,
  clock: () => Date.now(),
};

type TimerHandle = ReturnType<typeof setTimeout>;

/** Longest delay setTimeout accepts (2^31 - 1 ms); a later deadline is re-armed when this one fires. */
const MAX_TIMER_MS = 0x7fffffff;

function unref(timer: TimerHandle): void {
  (timer as { unref?: () => void }).unref?.();
}

/** Returns `code` when a WebSocket endpoint may send it in a close frame, else 1000 or 1011. */
export function sendableCloseCode(code: number): number {
  if (code >= 3000 && code <= 4999) return code;
  if (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) return code;
  return code === 1006 || code === 1005 ? 1000 : 1011;
}

/**
 * Drives one sans-IO session over one socket (see the module comment).
 * The adapter feeds it with {@link receive} and {@link socketClosed}; the
 * application calls {@link flush} after each command it gives the session
 * (subscribe, publish, consume, close).
 */
export class SessionDriver<E extends { readonly type: string }> {
  /** The session driven. */
  readonly session: DrivenSession<E>;
  /** Counters. */
  readonly metrics: DriverMetrics = {
    messagesSent: 0,
    bytesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    pressureStalls: 0,
  };
  private readonly socket: DriverSocket;
  private readonly onEvent: (event: E | TransportClosedEvent) => void;
  private readonly options: DriverOptions;
  private timer: TimerHandle | undefined;
  private timerAt: number | undefined;
  private waitingForDrain = false;
  private closeTimer: TimerHandle | undefined;
  private flushing = false;
  private flushAgain = false;
  private flushScheduled = false;
  private socketEnded = false;
  private closeCode = 1000;
  private closeReason = "";
  private sessionClosedSeen = false;

  /** Creates a driver; nothing happens until the first input or {@link flush}. */
  constructor(
    session: DrivenSession<E>,
    socket: DriverSocket,
    onEvent: (event: E | TransportClosedEvent) => void,
    options: Partial<DriverOptions> = {},
  ) {
    this.session = session;
    this.socket = socket;
    this.onEvent = onEvent;
    this.options = { ...DEFAULT_OPTIONS, ...options };
  }

  /** True once the socket has closed. */
  get ended(): boolean {
    return this.socketEnded;
  }

  /** Handles one binary message from the socket. */
  receive(bytes: Uint8Array): void {
    if (this.socketEnded) return;
    this.metrics.messagesReceived++;
    this.metrics.bytesReceived += bytes.length;
    this.session.handleMessage(bytes, this.options.clock());
    this.flush();
  }

  /**
   * Handles the socket's end. Stops the timer; when the session had not
   * closed yet, reports a {@link TransportClosedEvent} (after any events still
   * queued in the session).
   */
  socketClosed(code: number, reason: string): void {
    if (this.socketEnded) return;
    this.socketEnded = true;
    this.clearTimer();
    this.drainEvents();
    if (!this.sessionClosedSeen) {
      this.sessionClosedSeen = true;
      this.onEvent({
        type: "closed",
        initiator: "remote",
        code: code === 1005 ? 1006 : code,
        reason: reason === "" ? "connection lost" : reason,
        retryAfterMs: 0,
        jitterMs: 0,
        transport: true,
      });
    }
  }

  /** Runs a flush soon (in a microtask), once however often it is called before then. */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Hands queued events to the application, writes what the session has to
   * send (up to the socket's high-water mark), closes the socket after the
   * session's Close, and re-arms the timer. Re-entrant calls (from event
   * handlers) are folded into the running flush.
   */
  flush(): void {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    try {
      do {
        this.flushAgain = false;
        this.drainEvents();
        this.transmit();
      } while (this.flushAgain);
      if (this.session.isClosed) this.finish();
      else this.armTimer();
    } finally {
      this.flushing = false;
    }
  }

  private drainEvents(): void {
    for (let e = this.session.pollEvent(); e !== undefined; e = this.session.pollEvent()) {
      if (e.type === "closed") {
        const c = e as unknown as { code: number; reason: string };
        this.closeCode = c.code;
        this.closeReason = c.reason;
        this.sessionClosedSeen = true;
      }
      this.onEvent(e);
    }
  }

  private transmit(): void {
    if (this.socketEnded || this.waitingForDrain || this.socket.isOpen === false) return;
    let corked = false;
    try {
      for (;;) {
        if (this.socket.bufferedAmount > this.options.highWaterMarkBytes) {
          this.metrics.pressureStalls++;
          this.waitForDrain();
          return;
        }
        const bytes = this.session.pollTransmit();
        if (bytes === undefined) return;
        if (!corked && this.socket.cork !== undefined) {
          this.socket.cork();
          corked = true;
        }
        this.socket.send(bytes);
        this.metrics.messagesSent++;
        this.metrics.bytesSent += bytes.length;
      }
    } finally {
      if (corked) this.socket.uncork?.();
    }
  }

  private waitForDrain(): void {
    this.waitingForDrain = true;
    const resume = () => {
      if (!this.waitingForDrain) return;
      this.waitingForDrain = false;
      this.flush();
    };
    if (this.socket.onceDrained !== undefined) {
      this.socket.onceDrained(resume);
      return;
    }
    const poll = () => {
      if (this.socketEnded) return;
      if (this.socket.bufferedAmount <= this.options.highWaterMarkBytes) resume();
      else setTimeout(poll, this.options.drainPollMs);
    };
    setTimeout(poll, this.options.drainPollMs);
  }

  private finish(): void {
    this.clearTimer();
    if (this.socketEnded) return;
    if (this.waitingForDrain) {
      // The session's Close waits behind a socket that does not drain: give it closeTimeoutMs, then close anyway.
      if (this.closeTimer === undefined) {
        this.closeTimer = setTimeout(() => {
          this.waitingForDrain = false;
          this.finish();
        }, this.options.closeTimeoutMs);
        unref(this.closeTimer);
      }
      return;
    }
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    // Everything the session had to send is written (its Close last): close the socket.
    this.socketEnded = true;
    try {
      this.socket.close(sendableCloseCode(this.closeCode), this.closeReason);
    } catch {
      // The socket was already closing.
    }
  }

  private armTimer(): void {
    if (this.socketEnded) return;
    const at = this.session.pollTimeout();
    // A timer already set for this deadline or an earlier one stays: each send and each ack moves the heartbeat
    // and idle deadlines later, and re-arming on every flush would churn a timer per message. An early timer
    // finds nothing due, and re-arms for the deadline then current.
    if (this.timer !== undefined && at !== undefined && this.timerAt !== undefined && this.timerAt <= at)
      return;
    this.clearTimer();
    if (at === undefined) return;
    this.timerAt = at;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.options.clock()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      if (this.socketEnded) return;
      this.session.handleTimeout(this.options.clock());
      this.flush();
    }, delay);
    unref(this.timer);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }
}
