import {
  type DrivenSession,
  type DriverSocket,
  SessionDriver,
  sendableCloseCode,
} from "deltaframe/adapters/websocket";
import { describe, expect, it, vi } from "vitest";

type Ev = { type: "x" } | { type: "closed"; code: number; reason: string };

class FakeSession implements DrivenSession<Ev> {
  outbox: Uint8Array[] = [];
  events: Ev[] = [];
  deadline: number | undefined;
  timeouts: number[] = [];
  isClosed = false;
  handleMessage(bytes: Uint8Array): void {
    this.outbox.push(bytes);
  }
  handleTimeout(now: number): void {
    this.timeouts.push(now);
    this.deadline = undefined;
  }
  pollTransmit() {
    return this.outbox.shift();
  }
  pollEvent() {
    return this.events.shift();
  }
  pollTimeout() {
    return this.deadline;
  }
}

class FakeSocket implements DriverSocket {
  bufferedAmount = 0;
  sent: Uint8Array[] = [];
  writes = 0;
  corked = false;
  closed: [number, string] | undefined;
  drained: (() => void) | undefined;
  send(bytes: Uint8Array) {
    this.sent.push(bytes);
    this.bufferedAmount += bytes.length;
    if (!this.corked) this.writes++;
  }
  close(code: number, reason: string) {
    this.closed = [code, reason];
  }
  cork() {
    this.corked = true;
  }
  uncork() {
    this.corked = false;
    this.writes++;
  }
  onceDrained(callback: () => void) {
    this.drained = callback;
  }
}

describe("SessionDriver", () => {
  it("writes everything queued in one corked write", () => {
    const session = new FakeSession();
    const socket = new FakeSocket();
    const driver = new SessionDriver(session, socket, () => {});
    session.outbox.push(new Uint8Array(10), new Uint8Array(20), new Uint8Array(30));
    driver.flush();
    expect(socket.sent.map((b) => b.length)).toEqual([10, 20, 30]);
    expect(socket.writes).toBe(1);
    expect(driver.metrics).toMatchObject({ messagesSent: 3, bytesSent: 60 });
  });

  it("stops draining above the high-water mark and resumes on drain", () => {
    const session = new FakeSession();
    const socket = new FakeSocket();
    const driver = new SessionDriver(session, socket, () => {}, { highWaterMarkBytes: 100 });
    for (let i = 0; i < 10; i++) session.outbox.push(new Uint8Array(40));
    driver.flush();
    // 40, 80, 120 > 100: the fourth message waits.
    expect(socket.sent).toHaveLength(3);
    expect(session.outbox).toHaveLength(7);
    expect(driver.metrics.pressureStalls).toBe(1);
    driver.flush();
    expect(socket.sent).toHaveLength(3);
    socket.bufferedAmount = 0;
    socket.drained!();
    expect(socket.sent).toHaveLength(6);
    socket.bufferedAmount = 100;
    socket.drained!();
    expect(socket.sent).toHaveLength(7);
  });

  it("closes the socket with the session's close code once its Close is written", () => {
    const session = new FakeSession();
    const socket = new FakeSocket();
    const seen: Ev[] = [];
    const driver = new SessionDriver(session, socket, (e) => void seen.push(e as Ev));
    session.outbox.push(new Uint8Array([1]));
    session.events.push({ type: "closed", code: 4009, reason: "slow consumer" });
    session.isClosed = true;
    driver.flush();
    expect(socket.sent).toHaveLength(1);
    expect(socket.closed).toEqual([4009, "slow consumer"]);
    expect(seen).toHaveLength(1);
    driver.socketClosed(4009, "slow consumer");
    expect(seen).toHaveLength(1);
  });

  it("closes the socket after closeTimeoutMs when the session closed while the socket does not drain", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const session = new FakeSession();
      const socket = new FakeSocket();
      const driver = new SessionDriver(session, socket, () => {}, {
        highWaterMarkBytes: 100,
        closeTimeoutMs: 1000,
      });
      // A peer that stopped reading: the socket stays above the mark, and the session closes (its Close waits).
      for (let i = 0; i < 4; i++) session.outbox.push(new Uint8Array(40));
      session.events.push({ type: "closed", code: 4008, reason: "idle timeout" });
      session.isClosed = true;
      driver.flush();
      expect(socket.closed).toBeUndefined();
      vi.advanceTimersByTime(999);
      expect(socket.closed).toBeUndefined();
      vi.advanceTimersByTime(1);
      expect(socket.closed).toEqual([4008, "idle timeout"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("reports a socket that drops first as a closed event with 1006", () => {
    const session = new FakeSession();
    const seen: unknown[] = [];
    const driver = new SessionDriver(session, new FakeSocket(), (e) => void seen.push(e));
    driver.socketClosed(1006, "");
    expect(seen).toEqual([
      {
        type: "closed",
        initiator: "remote",
        code: 1006,
        reason: "connection lost",
        retryAfterMs: 0,
        jitterMs: 0,
        transport: true,
      },
    ]);
  });

  it("arms one timer at pollTimeout and calls handleTimeout", async () => {
    const session = new FakeSession();
    const now = 1000;
    const driver = new SessionDriver(session, new FakeSocket(), () => {}, { clock: () => now });
    session.deadline = 1000;
    driver.flush();
    await new Promise((r) => setTimeout(r, 20));
    expect(session.timeouts).toEqual([1000]);
  });

  it("maps close codes a WebSocket endpoint may not send", () => {
    expect(sendableCloseCode(4009)).toBe(4009);
    expect(sendableCloseCode(1002)).toBe(1002);
    expect(sendableCloseCode(1006)).toBe(1000);
    expect(sendableCloseCode(1005)).toBe(1000);
    expect(sendableCloseCode(2000)).toBe(1011);
  });
});
