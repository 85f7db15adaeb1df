/**
 * The WHATWG WebSocket adapter: drives a deltaframe session over a standard
 * `WebSocket` — browsers, Deno, Bun, Node 22 — with `binaryType`
 * "arraybuffer". It imports no transport module, so it bundles for the
 * browser as is.
 *
 * WHATWG sockets have no drain event, so above the high-water mark the
 * driver polls `bufferedAmount`; and a script may only close with 1000 or
 * 3000–4999, so other close codes go out as 1000 (the session's Close frame
 * carries the real one).
 *
 * @module
 */
import { DeltaframeError } from "../errors.js";
import {
  type Connection,
  type ConnectionOptions,
  type DrivenSession,
  type DriverSocket,
  SessionDriver,
} from "./driver.js";

export {
  type Connection,
  type ConnectionOptions,
  type DrivenSession,
  type DriverMetrics,
  type DriverOptions,
  type DriverSocket,
  SessionDriver,
  sendableCloseCode,
  type TransportClosedEvent,
} from "./driver.js";

/** The parts of a WHATWG `WebSocket` the adapter uses. */
export interface WhatwgWebSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: never) => void): void;
}

/** One session running over one WHATWG WebSocket: a {@link Connection} that can also be aborted. */
export interface WebSocketConnection<E extends { readonly type: string }>
  extends Connection<E, WhatwgWebSocket> {
  /** Closes the socket without waiting for the session (a dropped connection, for tests). */
  abort(): void;
}

/**
 * Options of {@link attachWebSocket} and {@link connectWebSocket}: `onEvent`
 * (which receives the {@link WebSocketConnection}), `driver` tuning, and
 * `onOpen`.
 */
export interface WebSocketConnectionOptions<E extends { readonly type: string }>
  extends ConnectionOptions<E, WebSocketConnection<E>> {
  /** Called once the socket is open, before the first flush: start the session here. */
  onOpen: (now: number) => void;
}

/** Returns a close code a script may pass to `WebSocket.close`: 1000 or 3000–4999. */
export function scriptCloseCode(code: number): number {
  return code >= 3000 && code <= 4999 ? code : 1000;
}

const OPEN = 1;

/**
 * Drives `session` over a WHATWG WebSocket, open or still connecting. Text
 * messages are refused (the socket is closed with 1000 and the session
 * learns of it as a lost connection).
 */
export function attachWebSocket<E extends { readonly type: string }>(
  socket: WhatwgWebSocket,
  session: DrivenSession<E>,
  options: Partial<WebSocketConnectionOptions<E>> = {},
): WebSocketConnection<E> {
  socket.binaryType = "arraybuffer";
  const adapter: DriverSocket = {
    get isOpen() {
      return socket.readyState === OPEN;
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send: (bytes) => socket.send(bytes),
    close: (code, reason) => socket.close(scriptCloseCode(code), reason),
  };
  let connection: WebSocketConnection<E>;
  const driver = new SessionDriver<E>(
    session,
    adapter,
    (event) => options.onEvent?.(event, connection),
    options.driver,
  );
  connection = {
    socket,
    session,
    driver,
    flush: () => driver.flush(),
    abort: () => {
      try {
        socket.close(1000, "aborted");
      } finally {
        driver.socketClosed(1006, "connection aborted");
      }
    },
  };
  const start = () => {
    options.onOpen?.(Date.now());
    driver.flush();
  };
  socket.addEventListener("message", (event: { data: unknown }) => {
    if (event.data instanceof ArrayBuffer) driver.receive(new Uint8Array(event.data));
    else socket.close(1000, "binary messages only");
  });
  socket.addEventListener("close", (event: { code: number; reason: string }) =>
    driver.socketClosed(event.code, event.reason),
  );
  socket.addEventListener("error", () => {
    // A close event follows every error; the driver reports it then.
  });
  if (socket.readyState === OPEN) queueMicrotask(start);
  else socket.addEventListener("open", start);
  return connection;
}

/** A WHATWG WebSocket constructor (the global one, or an implementation's). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WhatwgWebSocket;

/**
 * Opens a WebSocket to `url` (with `globalThis.WebSocket` unless another
 * constructor is given) and drives `session` over it. Throws
 * `DF_ERR_INVALID_STATE` when no WebSocket implementation is available.
 */
export function connectWebSocket<E extends { readonly type: string }>(
  url: string,
  session: DrivenSession<E>,
  options: Partial<WebSocketConnectionOptions<E> & { WebSocket: WebSocketConstructor }> = {},
): WebSocketConnection<E> {
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Ctor === undefined) {
    throw new DeltaframeError(
      "DF_ERR_INVALID_STATE",
      "cannot connect: no WebSocket implementation available",
    );
  }
  return attachWebSocket(new Ctor(url), session, options);
}

export {
  applyToReplica,
  type FollowConnect,
  Follower,
  type FollowerOptions,
  type FollowMetrics,
  type FollowTransport,
} from "./follow.js";
