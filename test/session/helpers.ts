/**
 * Test doubles for the session layer: a keyed source and a replica that check
 * patch bases exactly, a seeded PRNG, and an HMAC-SHA-256 token signer on
 * node:crypto (the session itself stays free of node: imports).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type {
  ClientEvent,
  KeyChange,
  KeyEntry,
  KeyedSource,
  PublishItem,
  TokenSigner,
} from "deltaframe/session";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Returns a randomBytes function over a seeded PRNG. */
export function seededBytes(seed: number): (n: number) => Uint8Array {
  const r = prng(seed);
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
    return out;
  };
}

/**
 * Test patch format: 8 bytes of base version (big-endian) then the new value,
 * so a replica can check that the sender tracked the held version exactly.
 */
export function patchBody(base: bigint, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + value.length);
  new DataView(out.buffer).setBigUint64(0, base);
  out.set(value, 8);
  return out;
}

function readPatch(body: Uint8Array): { base: bigint; value: Uint8Array } {
  return { base: new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0), value: body.subarray(8) };
}

/** A keyed source over a Map; produces the PublishItems to hand to sessions. */
export class TestSource implements KeyedSource {
  epoch = 1n;
  offset = 0n;
  readonly state = new Map<string, { version: bigint; value: Uint8Array }>();

  keys(): Iterable<string> {
    return this.state.keys();
  }

  get(key: string): KeyEntry | undefined {
    const s = this.state.get(key);
    return s === undefined ? undefined : { key, version: s.version, value: s.value };
  }

  change(key: string, held: bigint | undefined): KeyChange | undefined {
    const s = this.state.get(key);
    if (s === undefined) {
      return held === undefined
        ? undefined
        : { kind: "remove", version: this.offset, body: new Uint8Array(0) };
    }
    if (held === s.version) return undefined;
    if (held === undefined) return { kind: "full", version: s.version, body: s.value };
    return { kind: "patch", version: s.version, body: patchBody(held, s.value) };
  }

  /** Sets a key; returns the item to publish (a patch against the previous version when there was one). */
  set(key: string, value: string | Uint8Array): PublishItem {
    const v = typeof value === "string" ? enc.encode(value) : value;
    const prev = this.state.get(key);
    this.offset++;
    this.state.set(key, { version: this.offset, value: v });
    if (prev === undefined) return { type: "change", key, offset: this.offset, kind: "full", body: v };
    return {
      type: "change",
      key,
      offset: this.offset,
      kind: "patch",
      base: prev.version,
      body: patchBody(prev.version, v),
    };
  }

  /** Removes a key (must exist). */
  remove(key: string): PublishItem {
    if (!this.state.delete(key)) throw new Error(`no key ${key}`);
    this.offset++;
    return { type: "change", key, offset: this.offset, kind: "remove", body: new Uint8Array(0) };
  }

  /** An event at the next offset. */
  event(payload: string): PublishItem {
    this.offset++;
    return { type: "event", offset: this.offset, payload: enc.encode(payload) };
  }

  /** The state as plain strings, for comparisons. */
  snapshot(): Map<string, string> {
    return new Map([...this.state].map(([k, v]) => [k, dec.decode(v.value)]));
  }
}

/** A client application: applies session events to a map, checking patch bases. */
export class TestReplica {
  readonly state = new Map<string, { version: bigint; value: Uint8Array }>();
  readonly events: string[] = [];
  readonly eventOffsets: bigint[] = [];
  readonly problems: string[] = [];

  apply(e: ClientEvent): void {
    switch (e.type) {
      case "snapshot-begin":
        if (e.mode === 1) this.state.clear();
        return;
      case "snapshot":
        for (const entry of e.entries)
          this.state.set(entry.key, { version: entry.version, value: entry.value });
        for (const k of e.removed) this.state.delete(k);
        return;
      case "update": {
        if (e.kind === "remove") {
          if (!this.state.delete(e.key)) this.problems.push(`remove of absent ${e.key}`);
          return;
        }
        if (e.kind === "full") {
          this.state.set(e.key, { version: e.version, value: e.body });
          return;
        }
        const held = this.state.get(e.key);
        if (e.body.length < 8) {
          this.problems.push(`patch for ${e.key} is not a test patch`);
          return;
        }
        const p = readPatch(e.body);
        if (held === undefined || held.version !== p.base) {
          this.problems.push(`patch base ${p.base} for ${e.key} held ${held?.version}`);
          return;
        }
        this.state.set(e.key, { version: e.version, value: p.value.slice() });
        return;
      }
      case "event":
        this.events.push(dec.decode(e.payload));
        this.eventOffsets.push(e.offset);
        return;
      default:
        return;
    }
  }

  snapshot(): Map<string, string> {
    return new Map([...this.state].map(([k, v]) => [k, dec.decode(v.value)]));
  }
}

/** HMAC-SHA-256 token signer with key rotation by key id (node:crypto). */
export class HmacTokenSigner implements TokenSigner {
  constructor(
    readonly keyId: number,
    private readonly keys: ReadonlyMap<number, Uint8Array>,
  ) {
    if (!keys.has(keyId)) throw new Error("signing key missing");
  }

  sign(data: Uint8Array): Uint8Array {
    return new Uint8Array(createHmac("sha256", this.keys.get(this.keyId)!).update(data).digest());
  }

  verify(keyId: number, data: Uint8Array, signature: Uint8Array): boolean {
    const key = this.keys.get(keyId);
    if (key === undefined || signature.length !== 32) return false;
    const expected = createHmac("sha256", key).update(data).digest();
    return timingSafeEqual(expected, signature);
  }
}
