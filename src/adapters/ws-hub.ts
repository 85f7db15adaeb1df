/**
 * Serving hubs over `ws`: one server session per connection, attached to
 * every hub it may subscribe to, with resume on by default.
 *
 * @module
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import type { DescMessage } from "@bufbuild/protobuf";
import type { Hub } from "../hub/index.js";
import { createHmacSigner } from "../hub/index.js";
import {
  InMemoryTokenStore,
  type RetainedLog,
  type ServerEvent,
  ServerSession,
  type ServerSessionOptions,
  type TokenSigner,
  type TokenStore,
} from "../session/index.js";
import type { TransportClosedEvent } from "./driver.js";
import { type ListenWsOptions, listenWs, type WsConnection, type WsServer } from "./ws.js";

/** Options of {@link serveHubs}. */
export interface ServeHubsOptions
  extends Omit<ListenWsOptions<ServerEvent>, "createSession" | "onEvent" | "onConnection"> {
  /** Server session options (heartbeats, windows, limits); streams, log, signer and tokens are filled in. */
  session: Partial<ServerSessionOptions>;
  /** Signs resume tokens. Default: HMAC-SHA-256 under a random key (resume within this process). */
  signer: TokenSigner;
  /** Consumes resume tokens once. Default: in memory. */
  tokens: TokenStore;
  /** Decides a hello: true accepts, false rejects with 4003. Default: accept everyone. */
  authenticate: (event: Extract<ServerEvent, { type: "authenticate" }>) => boolean;
  /** Sees every server event after it was handled. */
  onEvent: (event: ServerEvent | TransportClosedEvent, connection: WsConnection<ServerEvent>) => void;
  /** Called for each new connection. */
  onConnection: (connection: WsConnection<ServerEvent>, session: ServerSession) => void;
}

/**
 * Starts a `ws` server for `hubs` (one stream each). Every connection gets a
 * {@link ServerSession} whose streams are the hubs, attached to each hub so
 * that `hub.flush` reaches it, and detached when it closes. Resolves once
 * listening. Throws DF_ERR_INVALID_ARGUMENT / DF_ERR_LIMIT_INVALID for bad
 * session options before listening; the sockets' `maxPayload` follows the
 * sessions' `maxMessageBytes`.
 */
export async function serveHubs(
  hubs: ReadonlyArray<Hub<DescMessage>>,
  options: Partial<ServeHubsOptions> = {},
): Promise<WsServer<ServerEvent>> {
  const byName = new Map(hubs.map((h) => [h.stream, h]));
  const log: RetainedLog = {
    append: (stream, entry) => byName.get(stream)?.log.append(stream, entry),
    read: (stream, from, max) => byName.get(stream)?.log.read(stream, from, max) ?? [],
    oldestOffset: (stream) => byName.get(stream)?.log.oldestOffset(stream),
  };
  const signer = options.signer ?? createHmacSigner(new Map([[1, new Uint8Array(nodeRandomBytes(32))]]), 1);
  const tokens = options.tokens ?? new InMemoryTokenStore();
  const detachers = new WeakMap<WsConnection<ServerEvent>, Array<() => void>>();
  const { session: sessionOptions, authenticate, onEvent, onConnection, ...listen } = options;
  // The socket's maxPayload follows the limits the sessions apply.
  const socketLimits = sessionOptions?.limits ?? listen.limits;
  const createSession = () =>
    new ServerSession(
      {
        randomBytes: (n) => new Uint8Array(nodeRandomBytes(n)),
        // One set of limits for the socket (maxPayload) and the session, unless the session has its own.
        ...(listen.limits !== undefined ? { limits: listen.limits } : {}),
        ...sessionOptions,
        streams: (name) => byName.get(name),
        log,
        signer,
        tokens,
      },
      Date.now(),
    );
  // Bad session options throw here, at start, rather than on each connection.
  createSession();
  return listenWs<ServerEvent>({
    ...listen,
    ...(socketLimits !== undefined ? { limits: socketLimits } : {}),
    createSession,
    onConnection: (connection) => {
      const session = connection.session as ServerSession;
      detachers.set(
        connection,
        hubs.map((hub) => hub.attach(session, () => connection.flush())),
      );
      onConnection?.(connection, session);
    },
    onEvent: (event, connection) => {
      const session = connection.session as ServerSession;
      if (event.type === "authenticate") {
        const now = Date.now();
        if (authenticate === undefined || authenticate(event)) session.accept({}, now);
        else session.reject(4003, "authentication rejected", now);
        connection.flush();
      } else if (event.type === "closed") {
        for (const detach of detachers.get(connection) ?? []) detach();
      }
      onEvent?.(event, connection);
    },
  });
}
