import { isDeltaframeError } from "deltaframe";
import { ReceiveWindow, SendWindow } from "deltaframe/session";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

describe("credit window", () => {
  it("a sender that follows SendWindow never trips the receiver's check, whatever the sizes, acks in flight and window changes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 64 }),
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant("send" as const), bytes: fc.nat(100), snapshot: fc.boolean() }),
            fc.record({ op: fc.constant("consume" as const), n: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ op: fc.constant("deliverAck" as const) }),
            fc.record({
              op: fc.constant("resize" as const),
              m: fc.integer({ min: 1, max: 8 }),
              b: fc.integer({ min: 1, max: 64 }),
            }),
          ),
          { maxLength: 100 },
        ),
        (wm, wb, ops) => {
          const send = new SendWindow(wm, wb);
          const recv = new ReceiveWindow(wm, wb);
          const inFlightAcks: Array<{ m: number; b: number; wm: number; wb: number }> = [];
          const unconsumed: Array<{ m: number; b: number }> = [];
          for (const op of ops) {
            if (op.op === "send") {
              const messages = op.snapshot ? 0 : 1;
              if (!send.canSend(op.bytes, messages)) continue;
              send.charge(op.bytes, messages);
              recv.receive(op.bytes, messages); // must not throw
              unconsumed.push({ m: messages, b: op.bytes });
            } else if (op.op === "consume") {
              for (let i = 0; i < op.n && unconsumed.length > 0; i++) {
                const u = unconsumed.shift()!;
                recv.consume(u.b, u.m);
              }
              if (recv.unacked) {
                const a = recv.ack();
                inFlightAcks.push({ m: a.messages, b: a.bytes, wm: 0, wb: 0 });
              }
            } else if (op.op === "resize") {
              recv.windowMessages = op.m;
              recv.windowBytes = op.b;
              const a = recv.ack();
              inFlightAcks.push({ m: a.messages, b: a.bytes, wm: op.m, wb: op.b });
            } else {
              const a = inFlightAcks.shift();
              if (a) send.ack(BigInt(a.m), BigInt(a.b), a.wm, a.wb);
            }
            expect(send.sentMessages).toBe(recv.recvMessages);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("an oversized item goes only when nothing is outstanding", () => {
    const send = new SendWindow(10, 16);
    expect(send.canSend(100)).toBe(true);
    send.charge(100);
    expect(send.canSend(1)).toBe(false);
    send.ack(1n, 100n);
    expect(send.canSend(100)).toBe(true);
    const recv = new ReceiveWindow(10, 16);
    recv.receive(100);
    let caught: unknown;
    try {
      recv.receive(1);
    } catch (error) {
      caught = error;
    }
    expect(isDeltaframeError(caught, "DF_ERR_CREDIT_EXCEEDED")).toBe(true);
  });

  it("stale and duplicate acks change nothing; an ack above what was sent throws DF_ERR_ACK_UNSENT", () => {
    const send = new SendWindow(2, 100);
    send.charge(10);
    send.charge(10);
    send.ack(2n, 20n);
    send.ack(1n, 10n);
    send.ack(2n, 20n);
    expect([send.ackedMessages, send.ackedBytes]).toEqual([2, 20]);
    let caught: unknown;
    try {
      send.ack(3n, 20n);
    } catch (error) {
      caught = error;
    }
    expect(isDeltaframeError(caught, "DF_ERR_ACK_UNSENT")).toBe(true);
    expect([send.ackedMessages, send.ackedBytes]).toEqual([2, 20]);
  });
});
