import { toBinary } from "@bufbuild/protobuf";
import { decodePatch, diff, encodeChange } from "deltaframe/delta";
import { OddsFeed } from "deltaframe/workload";
import { describe, expect, it } from "vitest";
import { MarketSchema } from "../../src/gen/deltaframe/odds/v1/odds_pb.js";

// Patch bytes on the reference workload (DESIGN §6): update bodies only, no framing.
describe("patch bytes on the odds feed", () => {
  it("seed 1, 10,000 ticks: body bytes by number of selections moved", () => {
    const feed = new OddsFeed({ seed: 1 });
    const ticks = 10_000;
    let body = 0;
    let full = 0;
    let patches = 0;
    const bySelections = [0, 0, 0, 0];
    const countBySelections = [0, 0, 0, 0];
    for (let i = 0; i < ticks; i++) {
      const tick = feed.next();
      const change = encodeChange(MarketSchema, tick.previous, tick.market);
      if (change.kind === "patch") patches++;
      body += change.body.length;
      full += toBinary(MarketSchema, tick.market).length;
      bySelections[tick.changedSelections.length]! += change.body.length;
      countBySelections[tick.changedSelections.length]!++;
    }
    expect(patches).toBe(ticks);
    expect(body).toBe(110_053); // 11.0 B per tick
    expect(full).toBe(5_155_616); // 515.6 B per tick as full values
    // 1, 2, 3 selections moved: 6.9, 10.9, 14.9 B per tick.
    expect(
      bySelections.slice(1).map((b, i) => Math.round((10 * b) / countBySelections[i + 1]!) / 10),
    ).toEqual([6.9, 10.9, 14.9]);
  });
});

describe("shapeable patches on the odds feed", () => {
  it("by default (ADD wins ties), every tick without a status change is made of ADD and ELEMENT only", () => {
    const shapeable = (p: Uint8Array) =>
      decodePatch(MarketSchema, p).every(
        (op) =>
          op.action.kind === "add" && op.path.every((s) => s.kind === "element" || s.kind === "descend"),
      );
    const feed = new OddsFeed({ seed: 1 });
    let setTies = 0;
    let byDefault = 0;
    let statusChanges = 0;
    const ticks = 5_000;
    for (let i = 0; i < ticks; i++) {
      const tick = feed.next();
      if (tick.event !== undefined) statusChanges++;
      const a = diff(MarketSchema, tick.previous, tick.market, { preferAdd: false });
      const b = diff(MarketSchema, tick.previous, tick.market);
      expect(b.length).toBe(a.length);
      if (shapeable(a)) setTies++;
      if (shapeable(b)) byDefault++;
    }
    expect(byDefault).toBe(ticks - statusChanges);
    expect(setTies).toBe(4_092); // 82 %: a price below 128 ticks is one byte as SET too
  });
});
