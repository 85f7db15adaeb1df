/**
 * The receiving side's copy of one stream's keyed state: key → value and
 * version. Applies update bodies (full value, patch, removal) atomically and
 * checks optional canonical hashes.
 *
 * A patch whose base the replica does not hold, or a result whose hash does
 * not match, is not fatal: {@link Replica.applyUpdate} returns a `"resync"`
 * result carrying the typed error and leaves the key unchanged, and the
 * session asks for the key again (`Resync` reason 1 or 2). Malformed bodies
 * are the peer's fault and are thrown.
 *
 * Memory is O(keys): one value, version and (when checked) nothing more per key.
 *
 * @module
 */
import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import { DeltaframeError, isDeltaframeError } from "../errors.js";
import type { Limits } from "../limits.js";
import { apply, resolveLimitsOnce } from "./apply.js";
import { hash, hashState } from "./hash.js";

/** Options of {@link Replica}. */
export interface ReplicaOptions {
  /** Bounds on update bodies (maxDepth, maxPatchOps); defaults to DEFAULT_LIMITS. */
  limits: Partial<Limits>;
}

/** One update for one key, as decoded from an `Updates` frame. */
export interface ReplicaUpdate {
  /** The key. */
  readonly key: string;
  /** Body kind: 0 full, 1 patch, 2 removal in the `Updates` frame. */
  readonly kind: "full" | "patch" | "remove";
  /** The version (stream offset) the key has after this update. */
  readonly version: bigint;
  /** The body: the full value, the patch operations, or empty for a removal. */
  readonly body: Uint8Array;
  /** For a patch: the version it applies to; undefined means the version held. */
  readonly baseVersion?: bigint | undefined;
  /** Canonical hash of the resulting value, when the sender provides it. */
  readonly hash?: bigint | undefined;
}

/** One key held by a {@link Replica}. */
export interface ReplicaEntry<V> {
  /** The key. */
  readonly key: string;
  /** The value. */
  readonly value: V;
  /** The version held. */
  readonly version: bigint;
}

/** The outcome of {@link Replica.applyUpdate}. */
export type ReplicaResult<V> =
  /** The key now has this value and version. */
  | { readonly type: "applied"; readonly entry: ReplicaEntry<V> }
  /** The key is gone (or was already absent). */
  | { readonly type: "removed"; readonly key: string; readonly version: bigint }
  /**
   * The update could not be applied and the key is unchanged: `error.code` is
   * DF_ERR_PATCH_BASE_MISSING or DF_ERR_HASH_MISMATCH. Ask for the key again.
   */
  | { readonly type: "resync"; readonly key: string; readonly error: DeltaframeError };

/** A receiver's replica of one stream's keyed state (DESIGN §4.3, §4.5). */
export class Replica<Desc extends DescMessage> implements Iterable<ReplicaEntry<MessageShape<Desc>>> {
  /** The schema of every value. */
  readonly schema: Desc;
  private readonly limits: Readonly<Limits>;
  private readonly entries = new Map<string, ReplicaEntry<MessageShape<Desc>>>();

  /** Creates an empty replica. Throws DF_ERR_LIMIT_INVALID for bad limits. */
  constructor(schema: Desc, options?: Partial<ReplicaOptions>) {
    this.schema = schema;
    this.limits = resolveLimitsOnce(options?.limits);
  }

  /** Number of keys held. */
  get size(): number {
    return this.entries.size;
  }

  /** Returns the key's value and version, or undefined. */
  get(key: string): ReplicaEntry<MessageShape<Desc>> | undefined {
    return this.entries.get(key);
  }

  /** Whether the key is held. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Iterates over the entries held. */
  [Symbol.iterator](): IterableIterator<ReplicaEntry<MessageShape<Desc>>> {
    return this.entries.values();
  }

  /** Returns key → version for every key held, for subscribe and resume catch-up. */
  versions(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const [key, entry] of this.entries) out.set(key, entry.version);
    return out;
  }

  /** Drops one key (local decision, e.g. before a resync); returns whether it was held. */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** Drops every key. */
  clear(): void {
    this.entries.clear();
  }

  /**
   * Applies one update atomically. Returns `"applied"` or `"removed"` on
   * success, `"resync"` (key unchanged) for a patch whose base is not held
   * (DF_ERR_PATCH_BASE_MISSING) or a result that fails the hash check
   * (DF_ERR_HASH_MISMATCH). Throws, with the key unchanged, the patch errors of
   * {@link apply} for a bad patch and DF_ERR_DECODE for a full value that does
   * not decode, DF_ERR_DEPTH for one nested deeper than maxDepth (unknown
   * fields in full values are dropped). A patched value shares the
   * sub-messages, lists and maps that the patch did not reach with the value
   * it replaced ({@link apply}): treat values as immutable.
   */
  applyUpdate(update: ReplicaUpdate): ReplicaResult<MessageShape<Desc>> {
    const { key } = update;
    if (update.kind === "remove") {
      this.entries.delete(key);
      return { type: "removed", key, version: update.version };
    }
    let value: MessageShape<Desc>;
    if (update.kind === "full") {
      value = this.decodeFull(update.body);
    } else {
      const held = this.entries.get(key);
      if (held === undefined || (update.baseVersion !== undefined && update.baseVersion !== held.version)) {
        const error = new DeltaframeError(
          "DF_ERR_PATCH_BASE_MISSING",
          "cannot apply update: the patch's base version is not held",
          { key, baseVersion: update.baseVersion, heldVersion: held?.version },
        );
        return { type: "resync", key, error };
      }
      value = apply(this.schema, held.value, update.body, { limits: this.limits });
    }
    if (update.hash !== undefined) {
      const actual = hash(this.schema, value);
      if (actual !== update.hash) {
        const error = new DeltaframeError(
          "DF_ERR_HASH_MISMATCH",
          "cannot apply update: hash of the result differs",
          {
            key,
            expected: update.hash,
            actual,
          },
        );
        return { type: "resync", key, error };
      }
    }
    const entry: ReplicaEntry<MessageShape<Desc>> = { key, value, version: update.version };
    this.entries.set(key, entry);
    return { type: "applied", entry };
  }

  /** Returns the canonical hash of the whole replica ({@link hashState}); compare with `SnapshotEnd.hash`. */
  stateHash(): bigint {
    const self = this;
    return hashState(
      (function* () {
        for (const [key, entry] of self.entries) yield [key, hash(self.schema, entry.value)] as const;
      })(),
    );
  }

  private decodeFull(body: Uint8Array): MessageShape<Desc> {
    try {
      return fromBinary(this.schema, body, {
        readUnknownFields: false,
        recursionLimit: this.limits.maxDepth,
      });
    } catch (error) {
      if (isDeltaframeError(error)) throw error;
      const message = error instanceof Error ? error.message : String(error);
      // protobuf-es reports its recursion limit as a plain Error.
      if (/recursion/i.test(message)) {
        throw new DeltaframeError("DF_ERR_DEPTH", "cannot decode value: nested too deeply", {
          limit: this.limits.maxDepth,
        });
      }
      throw new DeltaframeError("DF_ERR_DECODE", `cannot decode value: ${message}`, {}, { cause: error });
    }
  }
}
