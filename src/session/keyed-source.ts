/**
 * Adapts a delta `KeyedState` (or anything with the same `changeFor`/`get`
 * shape) to the {@link KeyedSource} a server session reads: the session never
 * touches values or patches itself, only the bytes the state encodes (and
 * caches, so fan-out to many sessions encodes once per key and base version).
 *
 * @module
 */
import type { KeyEntry, KeyedSource, KeyChange as SessionKeyChange } from "./types.js";

/** The part of a delta `KeyedState` the adapter uses (structural, so the session does not depend on delta internals). */
export interface KeyedStateLike {
  /** The keys, via the entries. */
  [Symbol.iterator](): Iterator<{ readonly key: string }>;
  /** The key's latest version, or undefined. */
  get(key: string): { readonly version: bigint } | undefined;
  /** One change from `heldVersion` to the latest (see `KeyedState.changeFor`). */
  changeFor(
    key: string,
    heldVersion?: bigint,
  ):
    | { readonly kind: "full" | "patch"; readonly version: bigint; readonly body: Uint8Array }
    | { readonly kind: "remove" }
    | undefined;
  /** Canonical hash of the key's latest value, or undefined. */
  hashOf?(key: string): bigint | undefined;
  /** Canonical hash of the whole state. */
  stateHash?(): bigint;
}

/** Where the stream stands: its epoch and the offset of its latest change. */
export interface StreamPosition {
  /** Current epoch. */
  readonly epoch: bigint;
  /** Offset of the latest change applied to the state. */
  readonly offset: bigint;
}

/** Options of {@link keyedSource}. */
export interface KeyedSourceOptions {
  /** Attach canonical hashes to changes (CAPABILITY_HASH). Default false. */
  hashes: boolean;
}

/**
 * Returns a {@link KeyedSource} over `state`, reading the stream's epoch and
 * latest offset from `position` (called on every read, so it may be a live view).
 */
export function keyedSource(
  state: KeyedStateLike,
  position: () => StreamPosition,
  options: Partial<KeyedSourceOptions> = {},
): KeyedSource {
  const hashes = options.hashes ?? false;
  const hashOf = (key: string) => (hashes ? state.hashOf?.(key) : undefined);
  const source: KeyedSource = {
    get epoch() {
      return position().epoch;
    },
    get offset() {
      return position().offset;
    },
    *keys() {
      for (const e of { [Symbol.iterator]: () => state[Symbol.iterator]() }) yield e.key;
    },
    get(key: string): KeyEntry | undefined {
      const c = state.changeFor(key, undefined);
      if (c === undefined || c.kind === "remove") return undefined;
      return { key, version: c.version, value: c.body };
    },
    change(key: string, heldVersion: bigint | undefined): SessionKeyChange | undefined {
      const c = state.changeFor(key, heldVersion);
      if (c === undefined) return undefined;
      if (c.kind === "remove") return { kind: "remove", version: position().offset, body: new Uint8Array(0) };
      const h = hashOf(key);
      return { kind: c.kind, version: c.version, body: c.body, ...(h !== undefined ? { hash: h } : {}) };
    },
  };
  if (hashes && state.stateHash !== undefined) {
    const stateHash = state.stateHash.bind(state);
    source.stateHash = () => stateHash();
  }
  return source;
}
