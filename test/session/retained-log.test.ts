import { isDeltaframeError } from "deltaframe";
import { InMemoryRetainedLog, type RetainedEntry } from "deltaframe/session";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const ev = (offset: bigint): RetainedEntry => ({ type: "event", offset, payload: new Uint8Array(0) });

describe("InMemoryRetainedLog", () => {
  it("keeps exactly the newest maxEntriesPerStream entries (at the bound and one past)", () => {
    const log = new InMemoryRetainedLog({ maxEntriesPerStream: 3 });
    for (let i = 1n; i <= 3n; i++) log.append("s", ev(i));
    expect(log.oldestOffset("s")).toBe(1n);
    expect(log.size("s")).toBe(3);
    log.append("s", ev(4n));
    expect(log.oldestOffset("s")).toBe(2n);
    expect(log.size("s")).toBe(3);
    expect(log.read("s", 0n, 10).map((e) => e.offset)).toEqual([2n, 3n, 4n]);
    expect(log.read("s", 3n, 1).map((e) => e.offset)).toEqual([3n]);
    expect(log.read("t", 0n, 10)).toEqual([]);
  });

  it("rejects offsets that do not increase", () => {
    const log = new InMemoryRetainedLog();
    log.append("s", ev(5n));
    let caught: unknown;
    try {
      log.append("s", ev(5n));
    } catch (error) {
      caught = error;
    }
    expect(isDeltaframeError(caught, "DF_ERR_INVALID_ARGUMENT")).toBe(true);
    expect(() => new InMemoryRetainedLog({ maxEntriesPerStream: 0 })).toThrow();
  });

  it("matches a plain list model for any append/read sequence", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(
          fc.oneof(fc.constant("append" as const), fc.tuple(fc.nat(60), fc.integer({ min: 1, max: 10 }))),
          {
            maxLength: 80,
          },
        ),
        (max, ops) => {
          const log = new InMemoryRetainedLog({ maxEntriesPerStream: max });
          const model: bigint[] = [];
          let next = 1n;
          for (const op of ops) {
            if (op === "append") {
              log.append("s", ev(next));
              model.push(next++);
              if (model.length > max) model.shift();
            } else {
              const [from, n] = op;
              const expected = model.filter((o) => o >= BigInt(from)).slice(0, n);
              expect(log.read("s", BigInt(from), n).map((e) => e.offset)).toEqual(expected);
            }
            expect(log.oldestOffset("s")).toBe(model[0]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
