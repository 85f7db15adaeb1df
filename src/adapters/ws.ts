/**
 * The Node `ws` adapter: drives deltaframe sessions over `ws` sockets, on the
 * server (`listenWs`, `attachWs`) and on the client (`connectWs`). Loaded
 * only through `deltaframe/adapters/ws`, so `ws` stays an optional peer
 * dependency that browser bundles never see.
 *
 * The server turns off permessage-deflate (deltaframe compresses per message
 * itself, without a per-connection context) and sets `maxPayload` from
 * `Limits.maxMessageBytes`, so oversize messages are refused by `ws` before
 * they are buffered.
 *
 * @module
 */
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { Limits } from "../limits.js";
import { resolveLimits } from "../limits.js";
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

/** One session running over one `ws` socket: a {@link Connection} that can also be terminated. */
export interface WsConnection<E extends { readonly type: string }> extends Connection<E, WebSocket> {
  /** Destroys the TCP connection at once, without a close handshake (tests, chaos). */
  terminate(): void;
}

/**
 * Options of {@link attachWs} and {@link connectWs}: `onEvent` (which
 * receives the {@link WsConnection}) and `driver` tuning.
 */
export interface WsConnectionOptions<E extends { readonly type: string }>
  extends ConnectionOptions<E, WsConnection<E>> {}

interface InternalSocket {
  _socket?: {
    cork(): void;
    uncork(): void;
    once(event: "drain", callback: () => void): void;
  } | null;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) {
    const joined = Buffer.concat(data);
    return new Uint8Array(joined.buffer, joined.byteOffset, joined.length);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

function driverSocket(socket: WebSocket): DriverSocket {
  return {
    get isOpen() {
      return socket.readyState === WebSocket.OPEN;
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send: (bytes) => socket.send(bytes, { binary: true }),
    close: (code, reason) => socket.close(code, reason),
    cork: () => (socket as unknown as InternalSocket)._socket?.cork(),
    uncork: () => (socket as unknown as InternalSocket)._socket?.uncork(),
    onceDrained: (callback: () => void) => {
      const raw = (socket as unknown as InternalSocket)._socket;
      if (raw) raw.once("drain", callback);
      else setTimeout(callback, 10);
    },
  };
}

/**
 * Drives `session` over an open `ws` socket (server side, or a client socket
 * opened elsewhere). Text messages are refused with close code 1003.
 * Returns the connection; the first flush happens in a microtask.
 */
export function attachWs<E extends { readonly type: string }>(
  socket: WebSocket,
  session: DrivenSession<E>,
  options: Partial<WsConnectionOptions<E>> = {},
): WsConnection<E> {
  const onEvent = options.onEvent;
  let connection: WsConnection<E>;
  const driver = new SessionDriver<E>(
    session,
    driverSocket(socket),
    (event) => onEvent?.(event, connection),
    options.driver,
  );
  connection = {
    socket,
    session,
    driver,
    flush: () => driver.flush(),
    terminate: () => socket.terminate(),
  };
  socket.binaryType = "nodebuffer";
  socket.on("message", (data: RawData, isBinary: boolean) => {
    if (!isBinary) {
      socket.close(1003, "binary messages only");
      return;
    }
    driver.receive(toBytes(data));
  });
  socket.on("close", (code: number, reason: Buffer) => driver.socketClosed(code, reason.toString("utf8")));
  socket.on("error", () => {
    // "close" follows every error; the driver reports it then.
  });
  driver.scheduleFlush();
  return connection;
}

/** Options of {@link connectWs}. */
export interface ConnectWsOptions<E extends { readonly type: string }> extends WsConnectionOptions<E> {
  /** Called once the socket is open, before the first flush: start the session here (e.g. `client.connect(now)`). */
  onOpen: (now: number) => void;
  /** Limits: `maxMessageBytes` becomes the socket's `maxPayload`. Default: the session's own `limits`. */
  limits: Partial<Limits>;
}

/** The limits a session applies (sessions of this package expose them), else the defaults. */
function limitsOf(session: object): Readonly<Limits> {
  const limits = (session as { limits?: Readonly<Limits> }).limits;
  return limits !== undefined ? limits : resolveLimits();
}

/**
 * Opens a `ws` client socket to `url` and drives `session` over it. Returns
 * at once; `onOpen` runs when the socket opens, and a failure to connect is
 * reported as a `closed` event with code 1006.
 */
export function connectWs<E extends { readonly type: string }>(
  url: string,
  session: DrivenSession<E>,
  options: Partial<ConnectWsOptions<E>> = {},
): WsConnection<E> {
  // The socket refuses what the session would refuse: its limits unless others are given.
  const limits = options.limits !== undefined ? resolveLimits(options.limits) : limitsOf(session);
  const socket = new WebSocket(url, {
    perMessageDeflate: false,
    maxPayload: limits.maxMessageBytes === Number.POSITIVE_INFINITY ? 0 : limits.maxMessageBytes,
  });
  const connection = attachWs(socket, session, options);
  socket.on("open", () => {
    options.onOpen?.(Date.now());
    connection.flush();
  });
  return connection;
}

/** Options of {@link listenWs}. */
export interface ListenWsOptions<E extends { readonly type: string }> extends WsConnectionOptions<E> {
  /** Port to listen on; 0 picks a free one. Default 0. Ignored with `server`. */
  port: number;
  /** Address to listen on. Default "127.0.0.1". Ignored with `server`. */
  host: string;
  /** An existing HTTP server to attach to, instead of listening. */
  server: Server | undefined;
  /** Only accept upgrades on this path. Default: any path. */
  path: string | undefined;
  /** Limits: `maxMessageBytes` becomes `maxPayload`. */
  limits: Partial<Limits>;
  /** Creates the session of a new connection (required). */
  createSession: (request: IncomingMessage) => DrivenSession<E>;
  /** Called for each new connection, after its session was created. */
  onConnection: (connection: WsConnection<E>, request: IncomingMessage) => void;
}

/** A running `ws` server of deltaframe sessions. */
export interface WsServer<E extends { readonly type: string }> {
  /** The underlying `ws` server. */
  readonly wss: WebSocketServer;
  /** The port listened on. */
  readonly port: number;
  /** `ws://host:port/` of the server. */
  readonly url: string;
  /** Open connections. */
  readonly connections: ReadonlySet<WsConnection<E>>;
  /** Stops accepting, terminates open connections and resolves once closed. */
  close(): Promise<void>;
}

/**
 * Starts a `ws` server whose every connection drives a session from
 * `createSession`. Resolves once listening. Throws `DF_ERR_LIMIT_INVALID` for
 * bad limits.
 */
export async function listenWs<E extends { readonly type: string }>(
  options: Partial<ListenWsOptions<E>> & Pick<ListenWsOptions<E>, "createSession">,
): Promise<WsServer<E>> {
  const limits = resolveLimits(options.limits);
  const maxPayload = limits.maxMessageBytes === Number.POSITIVE_INFINITY ? 0 : limits.maxMessageBytes;
  const host = options.host ?? "127.0.0.1";
  const common = { perMessageDeflate: false, maxPayload, ...(options.path ? { path: options.path } : {}) };
  const wss =
    options.server !== undefined
      ? new WebSocketServer({ ...common, server: options.server })
      : new WebSocketServer({ ...common, port: options.port ?? 0, host });
  if (options.server === undefined) {
    await new Promise<void>((resolve, reject) => {
      wss.once("listening", resolve);
      wss.once("error", reject);
    });
  }
  const connections = new Set<WsConnection<E>>();
  wss.on("connection", (socket, request) => {
    let session: DrivenSession<E>;
    try {
      session = options.createSession(request);
    } catch {
      // A session that cannot be made (bad options) fails this connection, not the server.
      socket.close(1011, "internal error");
      return;
    }
    const connection = attachWs(socket, session, {
      ...(options.driver ? { driver: options.driver } : {}),
      onEvent: (event, conn) => {
        if (event.type === "closed") connections.delete(conn);
        options.onEvent?.(event, conn);
      },
    });
    connections.add(connection);
    socket.on("close", () => connections.delete(connection));
    options.onConnection?.(connection, request);
  });
  const address = (options.server?.address() ?? wss.address()) as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    wss,
    port: address.port,
    url: `ws://${urlHost}:${address.port}/`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

export {
  applyToReplica,
  type FollowConnect,
  Follower,
  type FollowerOptions,
  type FollowMetrics,
  type FollowTransport,
} from "./follow.js";
export { type ServeHubsOptions, serveHubs } from "./ws-hub.js";
