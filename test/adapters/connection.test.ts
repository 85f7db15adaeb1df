// The connection types both adapters share (driver.ts): each adapter's
// connection is a `Connection` of its socket type, and its options'
// `onEvent` receives that adapter's connection.

import {
  attachWebSocket,
  type Connection,
  type ConnectionOptions,
  type DrivenSession,
  type WebSocketConnection,
  type WebSocketConnectionOptions,
  type WhatwgWebSocket,
} from "deltaframe/adapters/websocket";
import type {
  ConnectWsOptions,
  ListenWsOptions,
  WsConnection,
  WsConnectionOptions,
  Connection as WsModuleConnection,
} from "deltaframe/adapters/ws";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { WebSocket as WsSocket } from "ws";

type Ev = { type: "x" } | { type: "closed"; code: number; reason: string };

class FakeSession implements DrivenSession<Ev> {
  outbox: Uint8Array[] = [];
  events: Ev[] = [];
  isClosed = false;
  handleMessage(bytes: Uint8Array): void {
    this.outbox.push(bytes);
  }
  handleTimeout(): void {}
  pollTransmit() {
    return this.outbox.shift();
  }
  pollEvent() {
    return this.events.shift();
  }
  pollTimeout() {
    return undefined;
  }
}

type Listener = (event: never) => void;

class FakeWhatwgSocket implements WhatwgWebSocket {
  binaryType = "blob";
  bufferedAmount = 0;
  readyState = 1;
  sent: Uint8Array[] = [];
  closed: Array<[number | undefined, string | undefined]> = [];
  listeners = new Map<string, Listener[]>();
  send(data: Uint8Array): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closed.push([code, reason]);
  }
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  dispatch(type: string, event: unknown): void {
    for (const l of this.listeners.get(type) ?? []) (l as (e: unknown) => void)(event);
  }
}

/** Written once against the shared interface: sends what any adapter's session has queued. */
function flushAll<E extends { readonly type: string }>(connections: ReadonlyArray<Connection<E>>): number {
  let sent = 0;
  for (const c of connections) {
    c.flush();
    sent += c.driver.metrics.messagesSent;
  }
  return sent;
}

describe("Connection and ConnectionOptions", () => {
  it("each adapter's connection and options are the shared generic types", () => {
    expectTypeOf<WsConnection<Ev>>().toExtend<Connection<Ev, WsSocket>>();
    expectTypeOf<WebSocketConnection<Ev>>().toExtend<Connection<Ev, WhatwgWebSocket>>();
    expectTypeOf<WsConnectionOptions<Ev>>().toExtend<ConnectionOptions<Ev, WsConnection<Ev>>>();
    expectTypeOf<WebSocketConnectionOptions<Ev>>().toExtend<ConnectionOptions<Ev, WebSocketConnection<Ev>>>();
    expectTypeOf<ConnectWsOptions<Ev>>().toExtend<WsConnectionOptions<Ev>>();
    expectTypeOf<ListenWsOptions<Ev>>().toExtend<WsConnectionOptions<Ev>>();
    // Both entry points export the same Connection.
    expectTypeOf<WsModuleConnection<Ev>>().toEqualTypeOf<Connection<Ev>>();
    // onEvent hands over the adapter's own connection, with its own way to drop it.
    expectTypeOf<Parameters<WsConnectionOptions<Ev>["onEvent"]>[1]>().toHaveProperty("terminate");
    expectTypeOf<Parameters<WebSocketConnectionOptions<Ev>["onEvent"]>[1]>().toHaveProperty("abort");
  });

  it("attachWebSocket hands onEvent the connection it returns, usable through the shared interface", async () => {
    const session = new FakeSession();
    const socket = new FakeWhatwgSocket();
    const seen: Array<[string, WebSocketConnection<Ev>]> = [];
    const opened: number[] = [];
    const connection = attachWebSocket(socket, session, {
      onEvent: (event, conn) => seen.push([event.type, conn]),
      onOpen: (now) => opened.push(now),
    });
    expect(socket.binaryType).toBe("arraybuffer");
    await Promise.resolve(); // the first flush of an open socket runs in a microtask
    expect(opened).toHaveLength(1);

    session.events.push({ type: "x" });
    session.outbox.push(new Uint8Array([1, 2, 3]), new Uint8Array([4]));
    expect(flushAll([connection])).toBe(2);
    expect(socket.sent.map((b) => [...b])).toEqual([[1, 2, 3], [4]]);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.[0]).toBe("x");
    expect(seen[0]?.[1]).toBe(connection);
    expect(connection.socket).toBe(socket);
    expect(connection.session).toBe(session);

    // A message from the socket reaches the session; the fake echoes it back.
    socket.dispatch("message", { data: new Uint8Array([9, 9]).buffer });
    expect(socket.sent.map((b) => [...b])).toEqual([[1, 2, 3], [4], [9, 9]]);

    connection.abort();
    expect(socket.closed).toEqual([[1000, "aborted"]]);
    expect(seen.map(([type]) => type)).toEqual(["x", "closed"]);
    expect(seen[1]?.[1]).toBe(connection);
    expect(connection.driver.ended).toBe(true);
  });
});
