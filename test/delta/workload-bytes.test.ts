import { toBinary } from "@bufbuild/protobuf";
import { encodeChange } from "deltaframe/delta";
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
