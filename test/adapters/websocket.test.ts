// The WHATWG adapter, driven in Node by `ws`'s WebSocket class (which
// implements the WHATWG interface: binaryType, addEventListener,
// bufferedAmount, readyState). The browser itself is tested in
// test/e2e/browser.test.ts.

import {
  connectWebSocket,
  Follower,
  scriptCloseCode,
  type WebSocketConstructor,
} from "deltaframe/adapters/websocket";
import { serveHubs, type WsServer } from "deltaframe/adapters/ws";
import { Hub } from "deltaframe/hub";
import type { ServerEvent } from "deltaframe/session";
import { MarketSchema, OddsFeed } from "deltaframe/workload";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket as WsWebSocket } from "ws";

let server: WsServer<ServerEvent> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe("WHATWG WebSocket adapter", () => {
  it("follows a stream, resumes after a server-side kill and converges", async () => {
    const hub = new Hub(MarketSchema, { stream: "odds" });
    const feed = new OddsFeed({ seed: 21 });
    for (const [key, market] of feed.snapshot()) hub.set(key, market);
    server = await serveHubs([hub]);
    const url = server.url;
    const follower = new Follower({
      schema: MarketSchema,
      stream: "odds",
      random: () => 0.5,
      connect: (session, handlers) =>
        connectWebSocket(url, session, {
          ...handlers,
          WebSocket: WsWebSocket as unknown as WebSocketConstructor,
        }),
    });
    follower.start();
    await until(() => follower.replica.size === 200, "snapshot");
    const publish = () => {
      for (let i = 0; i < 200; i++) {
        const tick = feed.next();
        hub.set(tick.key, tick.market);
      }
      hub.flush(Date.now());
    };
    publish();
    for (const c of server.connections) c.terminate();
    publish();
    await until(
      () => follower.metrics.resumes === 1 && follower.replica.stateHash() === hub.stateHash(),
      "resume",
    );
    expect(follower.metrics.connects).toBe(2);
    expect(follower.metrics.snapshots).toBe(1);
    follower.stop();
  });

  it("throws DF_ERR_INVALID_STATE when no WebSocket implementation is available", () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => connectWebSocket("ws://127.0.0.1:1/", {} as never)).toThrow(
        expect.objectContaining({ name: "DeltaframeError", code: "DF_ERR_INVALID_STATE", closeCode: 1011 }),
      );
    } finally {
      if (saved !== undefined) global.WebSocket = saved;
    }
  });

  it("sends only the close codes a script may send", () => {
    expect(scriptCloseCode(1000)).toBe(1000);
    expect(scriptCloseCode(4009)).toBe(4009);
    expect(scriptCloseCode(3000)).toBe(3000);
    expect(scriptCloseCode(1002)).toBe(1000);
    expect(scriptCloseCode(1011)).toBe(1000);
    expect(scriptCloseCode(5000)).toBe(1000);
  });
});
