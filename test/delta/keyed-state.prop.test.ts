import { equals, toBinary } from "@bufbuild/protobuf";
import { KeyedState, Replica } from "deltaframe/delta";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Market, MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";
import { applyTick, marketArbitrary, tickArbitrary } from "./odds-arbitrary.js";

const NUM_RUNS = 1000;

const action = fc.oneof(
  {
    arbitrary: fc.record({ type: fc.constant("tick" as const), key: fc.nat(3), tick: tickArbitrary }),
    weight: 6,
  },
  {
    arbitrary: fc.record({ type: fc.constant("set" as const), key: fc.nat(3), value: marketArbitrary }),
    weight: 1,
  },
  { arbitrary: fc.record({ type: fc.constant("remove" as const), key: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constant("sync" as const), receiver: fc.nat(2) }), weight: 3 },
);

/** Brings a replica up to date from the state, the way a session's catch-up does. */
function sync(
  state: KeyedState<typeof MarketSchema>,
  replica: Replica<typeof MarketSchema>,
  stats: { patches: number },
) {
  for (const change of state.changesSince(replica.versions())) {
    if (change.kind === "remove") {
      expect(
        replica.applyUpdate({ key: change.key, kind: "remove", version: 0n, body: new Uint8Array(0) }).type,
      ).toBe("removed");
      continue;
    }
    if (change.kind === "patch") {
      stats.patches++;
      expect(change.body.length).toBeLessThan(toBinary(MarketSchema, state.get(change.key)!.value).length);
    }
    const result = replica.applyUpdate({
      key: change.key,
      kind: change.kind,
      version: change.version,
      body: change.body,
      baseVersion: change.kind === "patch" ? change.baseVersion : undefined,
      hash: state.hashOf(change.key),
    });
    expect(result.type).toBe("applied");
  }
}

describe("KeyedState and Replica (properties)", () => {
  it("replicas that sync at arbitrary points converge to the state, with conflated patches", () => {
    const stats = { patches: 0 };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.array(marketArbitrary, { minLength: 4, maxLength: 4 }),
        fc.array(action, { minLength: 5, maxLength: 40 }),
        (historyDepth, initial, actions) => {
          const state = new KeyedState(MarketSchema, { historyDepth });
          const replicas = [0, 1, 2].map(() => new Replica(MarketSchema));
          const latest = new Map<string, Market>();
          let version = 0n;
          for (const [i, m] of initial.entries()) {
            latest.set(`m${i}`, m);
            state.set(`m${i}`, m, ++version);
          }
          for (const replica of replicas) sync(state, replica, stats);
          for (const a of actions) {
            const key = "key" in a ? `m${a.key}` : "";
            switch (a.type) {
              case "tick": {
                const current = latest.get(key);
                if (current === undefined) break;
                const next = applyTick(current, a.tick);
                latest.set(key, next);
                state.set(key, next, ++version);
                break;
              }
              case "set":
                latest.set(key, a.value);
                state.set(key, a.value, ++version);
                break;
              case "remove":
                latest.delete(key);
                state.remove(key, ++version);
                break;
              case "sync":
                sync(state, replicas[a.receiver]!, stats);
                break;
            }
          }
          for (const replica of replicas) {
            sync(state, replica, stats);
            expect(replica.size).toBe(latest.size);
            for (const [key, value] of latest) {
              expect(equals(MarketSchema, replica.get(key)!.value, value)).toBe(true);
              expect(replica.get(key)!.version).toBe(state.get(key)!.version);
            }
            expect(replica.stateHash()).toBe(state.stateHash());
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
    expect(stats.patches).toBeGreaterThan(NUM_RUNS);
  });
});
