/**
 * The sending side's keyed state of one stream: key → latest value, version
 * and key id, plus a short history per key so that a receiver holding a
 * recent version gets one patch to the latest value (conflation: several
 * changes become one patch).
 *
 * Memory is O(keys): per live key it keeps the latest value, at most
 * `historyDepth` earlier values with their versions, its computed hash (once
 * asked for) and at most `historyDepth + 1` encoded changes to the latest
 * value. Removed keys keep nothing (no tombstones); their key ids are retired.
 *
 * @module
 */
import { type DescMessage, isMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { DeltaframeError } from "../errors.js";
import { type Change, encodeChange } from "./encode-change.js";
import { hash, hashState } from "./hash.js";
import type { DiffOptions } from "./patch-write.js";

/** Options of {@link KeyedState}. */
export interface KeyedStateOptions {
  /**
   * Earlier values kept per key, besides the latest, so that a receiver
   * holding one of them gets a patch instead of the full value. Default 4;
   * 0 keeps only the latest value. A non-negative integer.
   */
  historyDepth: number;
  /** Choices passed to {@link diff}. */
  diff: Partial<DiffOptions>;
}

/** One key of a {@link KeyedState}. */
export interface KeyedEntry<V> {
  /** The key. */
  readonly key: string;
  /** Numeric id of the key: allocated at its first set, never reused by this state. */
  readonly keyId: number;
  /** Stream offset of the key's last change. */
  readonly version: bigint;
  /** The latest value. Treated as immutable once set. */
  readonly value: V;
}

/**
 * What a receiver needs to move one key from the version it holds to the
 * latest: the full value, a patch against its version, or the key's removal.
 */
export type KeyChange =
  | {
      /** The full value (update kind 0). */
      readonly kind: "full";
      readonly key: string;
      readonly keyId: number;
      /** The version the receiver will hold. */
      readonly version: bigint;
      readonly body: Uint8Array;
    }
  | {
      /** A patch against `baseVersion` (update kind 1). */
      readonly kind: "patch";
      readonly key: string;
      readonly keyId: number;
      readonly version: bigint;
      /** The version the patch applies to. */
      readonly baseVersion: bigint;
      readonly body: Uint8Array;
    }
  | {
      /** The key no longer exists (update kind 2, empty body). */
      readonly kind: "remove";
      readonly key: string;
    };

interface Slot<V> {
  readonly keyId: number;
  version: bigint;
  value: V;
  /** Earlier values, newest first. */
  history: Array<{ version: bigint; value: V }>;
  hash: bigint | undefined;
  /** Encoded changes to the current version, by base version (undefined: full). */
  changes: Map<bigint | undefined, KeyChange>;
}

/**
 * Keyed state of one stream on the sending side (DESIGN §2, §4.3).
 *
 * Versions are stream offsets (bigint) and must increase per key. Values
 * are kept by reference: do not change a message after passing it to
 * {@link KeyedState.set}. Key ids are allocated from 0 upwards and never
 * reused by one instance; start a new instance for a new epoch.
 */
export class KeyedState<Desc extends DescMessage> implements Iterable<KeyedEntry<MessageShape<Desc>>> {
  /** The schema of every value. */
  readonly schema: Desc;
  private readonly historyDepth: number;
  private readonly diffOptions: Partial<DiffOptions>;
  private readonly slots = new Map<string, Slot<MessageShape<Desc>>>();
  private nextKeyId = 0;

  /**
   * Creates an empty state for values of `schema`. Throws
   * DF_ERR_INVALID_ARGUMENT for a `historyDepth` that is not a non-negative integer.
   */
  constructor(schema: Desc, options?: Partial<KeyedStateOptions>) {
    const historyDepth = options?.historyDepth ?? 4;
    if (!Number.isSafeInteger(historyDepth) || historyDepth < 0) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        "cannot create keyed state: historyDepth must be a non-negative integer",
        { historyDepth },
      );
    }
    this.schema = schema;
    this.historyDepth = historyDepth;
    this.diffOptions = options?.diff ?? {};
  }

  /** Number of keys. */
  get size(): number {
    return this.slots.size;
  }

  /**
   * Sets `key` to `value` at `version` and returns the entry. Allocates a key
   * id for a new key. Throws DF_ERR_INVALID_ARGUMENT when `value` is not a
   * message of the schema, and also when `version` is not
   * greater than the key's current version.
   */
  set(key: string, value: MessageShape<Desc>, version: bigint): KeyedEntry<MessageShape<Desc>> {
    if (!isMessage(value, this.schema)) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        `cannot set key: value is not a ${this.schema.typeName}`,
        {
          key,
        },
      );
    }
    const slot = this.slots.get(key);
    if (slot === undefined) {
      const created: Slot<MessageShape<Desc>> = {
        keyId: this.nextKeyId++,
        version,
        value,
        history: [],
        hash: undefined,
        changes: new Map(),
      };
      this.slots.set(key, created);
      return entryOf(key, created);
    }
    if (version <= slot.version) {
      throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot set key: version does not increase", {
        key,
        version,
        currentVersion: slot.version,
      });
    }
    if (this.historyDepth > 0) {
      slot.history.unshift({ version: slot.version, value: slot.value });
      if (slot.history.length > this.historyDepth) slot.history.length = this.historyDepth;
    }
    slot.version = version;
    slot.value = value;
    slot.hash = undefined;
    slot.changes.clear();
    return entryOf(key, slot);
  }

  /**
   * Removes `key` at `version`; returns false when it did not exist. Its
   * key id is retired. Throws DF_ERR_INVALID_ARGUMENT when `version` is not
   * greater than the key's current version.
   */
  remove(key: string, version: bigint): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    if (version <= slot.version) {
      throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot remove key: version does not increase", {
        key,
        version,
        currentVersion: slot.version,
      });
    }
    this.slots.delete(key);
    return true;
  }

  /** Returns the key's entry, or undefined. */
  get(key: string): KeyedEntry<MessageShape<Desc>> | undefined {
    const slot = this.slots.get(key);
    return slot === undefined ? undefined : entryOf(key, slot);
  }

  /** Whether the key exists. */
  has(key: string): boolean {
    return this.slots.has(key);
  }

  /** Iterates over the entries in insertion order of their keys. */
  *[Symbol.iterator](): IterableIterator<KeyedEntry<MessageShape<Desc>>> {
    for (const [key, slot] of this.slots) yield entryOf(key, slot);
  }

  /** Returns the value the key had at `version`, if it is the latest or still in the history. */
  valueAt(key: string, version: bigint): MessageShape<Desc> | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (slot.version === version) return slot.value;
    return slot.history.find((h) => h.version === version)?.value;
  }

  /**
   * Returns what a receiver holding `heldVersion` of `key` (undefined: holds
   * nothing) needs to reach the latest value: one patch from the held value
   * when that version is still known and the patch is smaller than the full
   * value (several changes are folded into one patch), else the full value;
   * `kind: "remove"` when the key is gone but the receiver holds it; undefined
   * when there is nothing to send (up to date, or absent on both sides).
   * Results are cached per key until its next change, so fan-out encodes once.
   */
  changeFor(key: string, heldVersion?: bigint): KeyChange | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return heldVersion === undefined ? undefined : { kind: "remove", key };
    if (heldVersion === slot.version) return undefined;
    const held = heldVersion === undefined ? undefined : slot.history.find((h) => h.version === heldVersion);
    const cacheKey = held === undefined ? undefined : heldVersion;
    const cached = slot.changes.get(cacheKey);
    if (cached !== undefined) return cached;
    let change: KeyChange;
    if (held === undefined) {
      change = {
        kind: "full",
        key,
        keyId: slot.keyId,
        version: slot.version,
        body: toBinary(this.schema, slot.value),
      };
    } else {
      const c: Change = encodeChange(this.schema, held.value, slot.value, this.diffOptions);
      change =
        c.kind === "patch"
          ? {
              kind: "patch",
              key,
              keyId: slot.keyId,
              version: slot.version,
              baseVersion: held.version,
              body: c.body,
            }
          : { kind: "full", key, keyId: slot.keyId, version: slot.version, body: c.body };
    }
    slot.changes.set(cacheKey, change);
    return change;
  }

  /**
   * Yields, for a receiver that holds the given versions (key → version),
   * every change it needs to reach the latest state: patches or full values
   * for changed and new keys, removals for held keys that are gone. Used for
   * per-key catch-up on subscribe and resume.
   */
  *changesSince(held: ReadonlyMap<string, bigint>): IterableIterator<KeyChange> {
    for (const key of this.slots.keys()) {
      const change = this.changeFor(key, held.get(key));
      if (change !== undefined) yield change;
    }
    for (const key of held.keys()) {
      if (!this.slots.has(key)) yield { kind: "remove", key };
    }
  }

  /** Returns the canonical hash of the key's latest value (cached), or undefined. */
  hashOf(key: string): bigint | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    slot.hash ??= hash(this.schema, slot.value);
    return slot.hash;
  }

  /** Returns the canonical hash of the whole state ({@link hashState}). */
  stateHash(): bigint {
    const self = this;
    return hashState(
      (function* () {
        for (const key of self.slots.keys()) yield [key, self.hashOf(key)!] as const;
      })(),
    );
  }
}

function entryOf<V>(key: string, slot: Slot<V>): KeyedEntry<V> {
  return { key, keyId: slot.keyId, version: slot.version, value: slot.value };
}
