/**
 * Resume tokens, the in-memory token store and the in-memory retained log.
 *
 * A token is `data ‖ signature`, where `data` is: format 1 (1 byte), key id
 * (uint32 BE), generation (uint32 BE), expiry in ms (uint64 BE), session id
 * length (1 byte, 1–64) and the session id. The signature is whatever the
 * injected {@link TokenSigner} produced (HMAC-SHA-256 in practice). Tokens are
 * single-use: the {@link TokenStore} consumes each (session id, generation)
 * once, and a resumed session is issued the next generation.
 *
 * @module
 */
import { DeltaframeError } from "../errors.js";
import type { RetainedEntry, RetainedLog, TokenConsumeResult, TokenSigner, TokenStore } from "./types.js";

const FORMAT = 1;
const HEADER_BYTES = 18;
/** Longest session id in a token, in bytes. */
export const MAX_SESSION_ID_BYTES = 64;
/** Longest token accepted, in bytes. */
export const MAX_TOKEN_BYTES = 256;

/** The fields of a resume token. */
export interface ResumeTokenFields {
  /** Signing key id. */
  keyId: number;
  /** Generation: 1 for a fresh session, +1 per resume. */
  generation: number;
  /** Expiry, in ms on the server's clock. */
  expiresAtMs: number;
  /** The session id (1–64 bytes). */
  sessionId: Uint8Array;
}

/** Returns a signed resume token for `fields` (key id taken from the signer). */
export function encodeResumeToken(fields: Omit<ResumeTokenFields, "keyId">, signer: TokenSigner): Uint8Array {
  const sid = fields.sessionId;
  if (sid.length === 0 || sid.length > MAX_SESSION_ID_BYTES) {
    throw new DeltaframeError(
      "DF_ERR_INVALID_ARGUMENT",
      "cannot encode resume token: session id must be 1–64 bytes",
      {
        bytes: sid.length,
      },
    );
  }
  const data = new Uint8Array(HEADER_BYTES + sid.length);
  const view = new DataView(data.buffer);
  data[0] = FORMAT;
  view.setUint32(1, signer.keyId >>> 0);
  view.setUint32(5, fields.generation >>> 0);
  view.setBigUint64(9, BigInt(Math.max(0, Math.floor(fields.expiresAtMs))));
  data[17] = sid.length;
  data.set(sid, HEADER_BYTES);
  const sig = signer.sign(data);
  const out = new Uint8Array(data.length + sig.length);
  out.set(data);
  out.set(sig, data.length);
  return out;
}

/**
 * Verifies a token's format and signature and returns its fields. Throws
 * `DF_ERR_RESUME_TOKEN_INVALID` (malformed, forged, foreign key) or
 * `DF_ERR_RESUME_TOKEN_EXPIRED` (past its expiry at `now`).
 */
export function verifyResumeToken(token: Uint8Array, signer: TokenSigner, now: number): ResumeTokenFields {
  const bad = (why: string) =>
    new DeltaframeError("DF_ERR_RESUME_TOKEN_INVALID", `cannot resume: token ${why}`);
  if (token.length < HEADER_BYTES + 1 || token.length > MAX_TOKEN_BYTES || token[0] !== FORMAT)
    throw bad("malformed");
  const view = new DataView(token.buffer, token.byteOffset, token.byteLength);
  const sidLen = token[17]!;
  if (sidLen === 0 || sidLen > MAX_SESSION_ID_BYTES || token.length <= HEADER_BYTES + sidLen)
    throw bad("malformed");
  const data = token.subarray(0, HEADER_BYTES + sidLen);
  const signature = token.subarray(HEADER_BYTES + sidLen);
  const keyId = view.getUint32(1);
  if (!signer.verify(keyId, data, signature)) throw bad("signature invalid");
  const expiresAtMs = Number(view.getBigUint64(9));
  if (now >= expiresAtMs) {
    throw new DeltaframeError("DF_ERR_RESUME_TOKEN_EXPIRED", "cannot resume: token expired", { expiresAtMs });
  }
  return { keyId, generation: view.getUint32(5), expiresAtMs, sessionId: data.slice(HEADER_BYTES) };
}

/** Returns the hex form of a session id (the key of a {@link TokenStore}). */
export function sessionIdHex(id: Uint8Array): string {
  let s = "";
  for (const b of id) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * A {@link TokenStore} in one process's memory. Entries are forgotten after
 * their expiry (swept on `issue`), so memory is O(tokens issued within their TTL).
 */
export class InMemoryTokenStore implements TokenStore {
  private readonly tokens = new Map<string, { expiresAtMs: number; consumed: boolean }>();

  /** Records an issued token. */
  issue(sessionId: string, generation: number, expiresAtMs: number): void {
    this.tokens.set(`${sessionId}/${generation}`, { expiresAtMs, consumed: false });
  }

  /** Consumes a token once; "reused" on any later attempt; "unknown" if never issued or forgotten. */
  consume(sessionId: string, generation: number, nowMs: number): TokenConsumeResult {
    const key = `${sessionId}/${generation}`;
    const t = this.tokens.get(key);
    if (t === undefined) return "unknown";
    if (t.consumed) return "reused";
    t.consumed = true;
    this.sweep(nowMs);
    return "ok";
  }

  /** Number of tokens remembered. */
  get size(): number {
    return this.tokens.size;
  }

  private sweep(nowMs: number): void {
    for (const [k, v] of this.tokens) if (v.expiresAtMs <= nowMs && !v.consumed) this.tokens.delete(k);
  }
}

/** Options of {@link InMemoryRetainedLog}. */
export interface InMemoryRetainedLogOptions {
  /** Entries kept per stream; the oldest are forgotten beyond it. Default 10,000. */
  maxEntriesPerStream: number;
}

/**
 * A {@link RetainedLog} in one process's memory: a bounded window per stream.
 * Appends must have strictly increasing offsets per stream (else
 * DF_ERR_INVALID_ARGUMENT). Appending is amortised O(1): forgotten entries are
 * skipped by a head index and compacted in bulk, never one `splice` per append.
 */
export class InMemoryRetainedLog implements RetainedLog {
  private readonly streams = new Map<string, { entries: RetainedEntry[]; head: number }>();
  private readonly max: number;

  constructor(options: Partial<InMemoryRetainedLogOptions> = {}) {
    const max = options.maxEntriesPerStream ?? 10_000;
    if (!Number.isSafeInteger(max) || max <= 0) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        "cannot create retained log: maxEntriesPerStream must be a positive integer",
        { maxEntriesPerStream: max },
      );
    }
    this.max = max;
  }

  /** Appends one entry; forgets the oldest beyond the bound. */
  append(stream: string, entry: RetainedEntry): void {
    let log = this.streams.get(stream);
    if (log === undefined) {
      log = { entries: [], head: 0 };
      this.streams.set(stream, log);
    }
    const last = log.entries[log.entries.length - 1];
    if (last !== undefined && log.entries.length > log.head && entry.offset <= last.offset) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        "cannot append to retained log: offset not increasing",
        {
          offset: entry.offset,
          last: last.offset,
        },
      );
    }
    log.entries.push(entry);
    if (log.entries.length - log.head > this.max) log.head++;
    // Compact once the forgotten prefix is as long as what is kept: amortised O(1) per append.
    if (log.head >= this.max) {
      log.entries.splice(0, log.head);
      log.head = 0;
    }
  }

  /** Returns up to `max` entries with offset ≥ `fromOffset`. */
  read(stream: string, fromOffset: bigint, max: number): RetainedEntry[] {
    const log = this.streams.get(stream);
    if (log === undefined || max <= 0) return [];
    const list = log.entries;
    let lo = log.head;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.offset < fromOffset) lo = mid + 1;
      else hi = mid;
    }
    return list.slice(lo, Math.min(list.length, lo + max));
  }

  /** Offset of the oldest entry retained for `stream`. */
  oldestOffset(stream: string): bigint | undefined {
    const log = this.streams.get(stream);
    return log?.entries[log.head]?.offset;
  }

  /** Number of entries retained for `stream`. */
  size(stream: string): number {
    const log = this.streams.get(stream);
    return log === undefined ? 0 : log.entries.length - log.head;
  }

  /** Forgets everything retained for `stream` (on a new epoch). */
  clear(stream: string): void {
    this.streams.delete(stream);
  }
}
