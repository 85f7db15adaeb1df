// A client whose deflater bounds its compressed input (fflate: no output cap,
// so it refuses deflate data longer than maxWorkBytes / 1032) advertises a
// message size that bound can read, so the server never sends it a
// compressed message it refuses.

import { DeltaframeError, isDeltaframeError } from "deltaframe";
import {
  createFflateDeflater,
  createZlibDeflater,
  type Deflater,
  decodeBatch,
  defaultDeflater,
  MARKER_DEFLATE,
  unframeBatch,
} from "deltaframe/codec";
import { Capability } from "deltaframe/proto";
import { ClientSession, type ClientSessionOptions } from "deltaframe/session";
import { describe, expect, it } from "vitest";
import { SessionPair } from "./harness.js";
import { prng } from "./helpers.js";

const WITH_DEFLATE = Capability.HASH | Capability.RESUME | Capability.DEFLATE;
const MIB = 1 << 20;

/** The `max_message_bytes` of the Hello a client with these options sends. */
function advertised(options: Partial<ClientSessionOptions>): number {
  const client = new ClientSession(options);
  client.connect(1000);
  const message = client.pollTransmit();
  if (message === undefined) throw new Error("no hello queued");
  const body = decodeBatch(message)[0]?.body;
  if (body?.case !== "hello") throw new Error(`expected a hello, got ${body?.case}`);
  return body.value.maxMessageBytes;
}

/** Length of the deflate data of a marker-0x01 message (marker, varint declared length, data). */
function deflateDataBytes(message: Uint8Array): number {
  let pos = 1;
  while ((message[pos]! & 0x80) !== 0) pos++;
  return message.length - pos - 1;
}

/** A source of 240 values of 4,000 bytes over a 200-symbol alphabet: deflate shrinks them by only a few percent. */
function fillBarelyCompressible(pair: SessionPair): void {
  const random = prng(7);
  for (let i = 0; i < 240; i++) {
    const value = new Uint8Array(4000);
    for (let j = 0; j < value.length; j++) value[j] = Math.floor(random() * 200);
    pair.source.set(`key-${i}`, value);
  }
}

describe("Deflater.maxCompressedBytes", () => {
  it("fflate states its input bound (maxWorkBytes / 1032, rounded down); node:zlib has none", () => {
    expect(createFflateDeflater().maxCompressedBytes).toBe(65_027);
    expect(createFflateDeflater({ maxWorkBytes: 1032 * 600 + 1031 }).maxCompressedBytes).toBe(600);
    expect(createZlibDeflater().maxCompressedBytes).toBeUndefined();
  });

  it("fflate inflates deflate data of exactly maxCompressedBytes and refuses one byte more", () => {
    const deflater = createFflateDeflater({ maxWorkBytes: 1032 * 600 });
    expect(deflater.maxCompressedBytes).toBe(600);
    // Random bytes deflate to a stored block: 5 bytes of header, then the data.
    const random = prng(3);
    const stored = (n: number) => {
      const data = Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
      return { data, deflated: createZlibDeflater().deflateRaw(data) };
    };
    const atLimit = stored(595);
    const pastLimit = stored(596);
    expect(atLimit.deflated.length).toBe(600);
    expect(pastLimit.deflated.length).toBe(601);
    expect(deflater.inflateRaw(atLimit.deflated, 595)).toEqual(atLimit.data);
    try {
      deflater.inflateRaw(pastLimit.deflated, 596);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DeltaframeError);
      expect(isDeltaframeError(error, "DF_ERR_INFLATE_TOO_LARGE")).toBe(true);
      expect((error as DeltaframeError).closeCode).toBe(1009);
    }
  });
});

describe("Hello.max_message_bytes with a bounded deflater", () => {
  it("is the deflater's bound plus the 2-byte smallest header (65,029 with fflate's defaults) when deflate is offered", () => {
    expect(advertised({ capabilities: WITH_DEFLATE, deflater: createFflateDeflater() })).toBe(65_029);
    // Unlimited on this side is still bounded by what the deflater reads.
    expect(
      advertised({
        capabilities: WITH_DEFLATE,
        deflater: createFflateDeflater(),
        limits: { maxMessageBytes: Number.POSITIVE_INFINITY },
      }),
    ).toBe(65_029);
    expect(
      advertised({
        capabilities: WITH_DEFLATE,
        deflater: createFflateDeflater({ maxWorkBytes: 1032 * 1000 }),
      }),
    ).toBe(1002);
    // The dictionary form is inflated by the same deflater.
    expect(
      advertised({
        capabilities: Capability.HASH | Capability.DICTIONARY,
        deflater: createFflateDeflater(),
      }),
    ).toBe(65_029);
  });

  it("is the limit itself when that is smaller, deflate is not offered, or the deflater has no bound", () => {
    expect(
      advertised({
        capabilities: WITH_DEFLATE,
        deflater: createFflateDeflater(),
        limits: { maxMessageBytes: 4096 },
      }),
    ).toBe(4096);
    expect(advertised({ deflater: createFflateDeflater() })).toBe(MIB);
    expect(advertised({ capabilities: WITH_DEFLATE, deflater: createZlibDeflater() })).toBe(MIB);
    expect(
      advertised({ capabilities: WITH_DEFLATE, limits: { maxMessageBytes: Number.POSITIVE_INFINITY } }),
    ).toBe(0);
  });

  it("follows the codec's default deflater when none is given (node:zlib here, fflate outside Node)", () => {
    expect(defaultDeflater().name).toBe("zlib");
    expect(advertised({ capabilities: WITH_DEFLATE })).toBe(MIB);
  });

  it("at the protocol minimum of 512 bytes connects; one byte less throws DF_ERR_INVALID_ARGUMENT and stays idle", () => {
    // 1032 × 510 work bytes: 510 bytes of deflate data, 512-byte messages.
    expect(
      advertised({
        capabilities: WITH_DEFLATE,
        deflater: createFflateDeflater({ maxWorkBytes: 1032 * 510 }),
      }),
    ).toBe(512);
    const client = new ClientSession({
      capabilities: WITH_DEFLATE,
      deflater: createFflateDeflater({ maxWorkBytes: 1032 * 509 }),
    });
    try {
      client.connect(1000);
      expect.unreachable();
    } catch (error) {
      expect(isDeltaframeError(error, "DF_ERR_INVALID_ARGUMENT")).toBe(true);
    }
    expect(client.state).toBe("idle");
    expect(client.pollTransmit()).toBeUndefined();
  });
});

describe("a server sending to a client with a bounded deflater", () => {
  it("never sends a compressed message the client refuses: a 960 KB barely compressible snapshot arrives whole", () => {
    const deflater: Deflater = createFflateDeflater();
    const pair = new SessionPair({
      server: { capabilities: WITH_DEFLATE },
      client: { capabilities: WITH_DEFLATE, deflater },
    });
    fillBarelyCompressible(pair);
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    expect(pair.client.error).toBeUndefined();
    expect(pair.server.error).toBeUndefined();
    expect(pair.clientOf("welcome")[0]!.capabilities & Capability.DEFLATE).toBe(Capability.DEFLATE);
    expect(pair.replica.snapshot()).toEqual(pair.source.snapshot());
    const compressed = pair.wire.s2c.filter((m) => m[0] === MARKER_DEFLATE);
    expect(compressed.length).toBeGreaterThan(10);
    expect(Math.max(...pair.wire.s2c.map((m) => m.length))).toBeLessThanOrEqual(65_029);
    // The messages fill the advertised size: their deflate data comes close to the bound, and stays within it.
    const largest = Math.max(...compressed.map(deflateDataBytes));
    expect(largest).toBeGreaterThan(60_000);
    expect(largest).toBeLessThanOrEqual(deflater.maxCompressedBytes!);
  });

  it("(the same snapshot to a client that advertises 1 MiB carries deflate data fflate refuses)", () => {
    const pair = new SessionPair({
      server: { capabilities: WITH_DEFLATE },
      client: { capabilities: WITH_DEFLATE, deflater: createZlibDeflater() },
    });
    fillBarelyCompressible(pair);
    pair.client.subscribe("s", {}, pair.now);
    pair.run();
    expect(pair.replica.snapshot()).toEqual(pair.source.snapshot());
    const compressed = pair.wire.s2c.filter((m) => m[0] === MARKER_DEFLATE);
    const tooLarge = compressed.filter((m) => deflateDataBytes(m) > 65_027);
    expect(tooLarge.length).toBeGreaterThan(0);
    try {
      unframeBatch(tooLarge[0]!, { decompress: true, deflater: createFflateDeflater() });
      expect.unreachable();
    } catch (error) {
      expect(isDeltaframeError(error, "DF_ERR_INFLATE_TOO_LARGE")).toBe(true);
    }
  });
});

describe("Welcome.max_message_bytes with a bounded deflater", () => {
  it("a server reading with fflate announces its bound, so the client never sends it deflate data it refuses", () => {
    const pair = new SessionPair({
      server: { capabilities: WITH_DEFLATE, deflater: createFflateDeflater() },
      client: { capabilities: WITH_DEFLATE },
    });
    pair.run();
    expect(pair.clientOf("welcome")[0]!.maxMessageBytes).toBe(65_029);
    const plain = new SessionPair({ server: { deflater: createFflateDeflater() } });
    plain.run();
    // Without compression in force the bound does not apply: the server's own limit (default 1 MiB).
    expect(plain.clientOf("welcome")[0]!.maxMessageBytes).toBe(MIB);
    const zlib = new SessionPair({
      server: { capabilities: WITH_DEFLATE, deflater: createZlibDeflater() },
      client: { capabilities: WITH_DEFLATE },
    });
    zlib.run();
    expect(zlib.clientOf("welcome")[0]!.maxMessageBytes).toBe(MIB);
  });
});
