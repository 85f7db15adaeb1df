import { isDeltaframeError } from "deltaframe";
import { MARKER_DEFLATE, MARKER_PLAIN, MARKER_SINGLE } from "deltaframe/codec";
import { Capability } from "deltaframe/proto";
import { describe, expect, it } from "vitest";
import { SessionPair } from "./harness.js";

const DEFLATE_BOTH = {
  server: { capabilities: Capability.HASH | Capability.RESUME | Capability.DEFLATE },
  client: { capabilities: Capability.HASH | Capability.RESUME | Capability.DEFLATE },
};

/** Whether a transport message is sent uncompressed: a `Batch` (marker 0x00) or a single frame (0x03). */
function plain(message: Uint8Array): boolean {
  return message[0] === MARKER_PLAIN || message[0] === MARKER_SINGLE;
}

describe("per-message compression (CAPABILITY_DEFLATE)", () => {
  it("is applied when both sides offer it: large messages deflated, hello and welcome never", () => {
    const pair = new SessionPair(DEFLATE_BOTH);
    const src = pair.source;
    for (let i = 0; i < 200; i++) src.set(`key-${i}`, `value ${i} `.repeat(4));
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    expect(pair.clientOf("welcome")[0]!.capabilities & Capability.DEFLATE).toBe(Capability.DEFLATE);
    expect(plain(pair.wire.c2s[0]!)).toBe(true); // hello
    expect(plain(pair.wire.s2c[0]!)).toBe(true); // welcome
    expect(pair.wire.s2c.some((m) => m[0] === MARKER_DEFLATE)).toBe(true);
    expect(pair.replica.snapshot()).toEqual(src.snapshot());
    // Small messages stay plain (below the threshold).
    const n = pair.wire.s2c.length;
    pair.publish([src.event("x")]);
    expect(pair.wire.s2c.slice(n).every(plain)).toBe(true);
  });

  it("is off unless both offer it", () => {
    const pair = new SessionPair({ server: DEFLATE_BOTH.server });
    const src = pair.source;
    for (let i = 0; i < 200; i++) src.set(`key-${i}`, `value ${i} `.repeat(4));
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    expect(pair.clientOf("welcome")[0]!.capabilities & Capability.DEFLATE).toBe(0);
    expect(pair.wire.s2c.every(plain)).toBe(true);
  });

  it("a compressed message when compression is not in force is DF_ERR_COMPRESSION_NOT_NEGOTIATED", () => {
    const pair = new SessionPair();
    pair.run();
    const message = new Uint8Array([MARKER_DEFLATE, 5, 1, 2, 3]);
    pair.inject("c2s", message);
    expect(isDeltaframeError(pair.server.error, "DF_ERR_COMPRESSION_NOT_NEGOTIATED")).toBe(true);
    expect(pair.server.error!.closeCode).toBe(1002);
  });
});
