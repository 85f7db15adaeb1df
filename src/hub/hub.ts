/**
 * Fan-out of one keyed source to many server sessions (DESIGN §3).
 *
 * Theory of operation. The application publishes (key, value), removals and
 * events to a {@link Hub}; the hub owns the stream's {@link KeyedState}, gives
 * every change the next stream offset, appends it to the retained log, and
 * hands the same {@link PublishItem} objects — the same body bytes — to every
 * attached session on {@link Hub.flush}. Each session keeps only its own
 * per-connection parts (credit, acks, key ids, conflation state).
 *
 * Encode once: a change body is encoded once per (key, base version,
 * version) triple, whatever the number of sessions. The change published
 * live is the patch from the key's previous version; a session that fell
 * behind (conflation, catch-up, resync) asks the hub, as its
 * {@link KeyedSource}, for the change from the version its client holds,
 * which is encoded on first request and served from a per-key cache until
 * the key changes again. Full values are encoded once per version.
 * `metrics.changesEncoded` counts the encodings.
 *
 * Share once: the items of one flush become one {@link SharedBatch}. Keys
 * carry stream-wide key ids ({@link Hub.keyId}), so every session in
 * lockstep with the stream writes the same frames; the batch encodes (and
 * compresses) its transport messages on the first session's request and the
 * others send the very same bytes, doing only their own credit and
 * accounting. The hub keeps one {@link LockstepView} (every key's version as
 * of the last flush) that sessions in lockstep follow instead of tracking
 * each key themselves. A session that lags (conflation, sync, other wire settings)
 * frames the same items itself. `metrics.batchMessagesEncoded` against
 * `metrics.sharedDeliveries` shows the saving.
 *
 * Consistency: the keyed state, the offset and the retained log move
 * together at publish time, before the sessions hear of it, so that a
 * session that subscribes in between snapshots the state its later items
 * continue from (sessions ignore items at or below their sync offset).
 *
 * @module
 */
import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { encodeChange, KeyedState } from "../delta/index.js";
import { DeltaframeError } from "../errors.js";
import type {
  KeyChange,
  KeyEntry,
  KeyedSource,
  PublishedChange,
  PublishedEvent,
  PublishItem,
  RetainedLog,
} from "../session/index.js";
import { InMemoryRetainedLog, LockstepView, SharedBatch } from "../session/index.js";

/** Options of {@link Hub}. */
export interface HubOptions {
  /** Stream name, e.g. `odds/nfl`. Default "default". */
  stream: string;
  /** Epoch of the stream; a new hub after lost history needs a new epoch. Default 1n. */
  epoch: bigint;
  /** Retained log for resume by replay. Default an in-memory log of 10,000 entries. */
  log: RetainedLog;
  /** Earlier values kept per key, so a client a few versions behind gets one patch. Default 4. */
  historyDepth: number;
  /** Attach the canonical hash of the result to every change (CAPABILITY_HASH). Default false. */
  hashes: boolean;
}

/** Something the hub publishes to: a ServerSession, or anything with its `publish`. */
export interface HubSubscriber {
  /** Receives the stream's items in offset order (ServerSession.publish). */
  publish(stream: string, items: readonly PublishItem[], now: number): void;
  /** Receives the same items as a batch encoded once for every subscriber (ServerSession.publishBatch); preferred when present. */
  publishBatch?(batch: SharedBatch, now: number): void;
  /** True once closed: the hub detaches it on the next flush. */
  readonly isClosed?: boolean;
  /**
   * Closes it with a close code (ServerSession.close): the hub calls it, with
   * 1011, on a subscriber it detaches because publishing to it threw.
   */
  close?(code: number, reason: string, now: number): void;
}

/** Counters of a {@link Hub}. */
export interface HubMetrics {
  /** Changes published (keyed changes and removals). */
  changes: number;
  /** Events published. */
  events: number;
  /** Change bodies encoded (patches and full values), one per distinct (key, base, version). */
  changesEncoded: number;
  /** Bytes of encoded change bodies. */
  encodedBytes: number;
  /** Items handed to sessions, summed over sessions (each shares the hub's bytes). */
  deliveries: number;
  /** Flushes that published at least one item. */
  flushes: number;
  /** Transport messages of shared batches encoded, one per batch and distinct wire settings (usually one per batch). */
  batchMessagesEncoded: number;
  /** Times a subscriber sent a flush's shared messages instead of framing the items itself. */
  sharedDeliveries: number;
  /** Subscribers detached because publishing to them (or their `afterPublish`) threw. */
  subscriberErrors: number;
}

interface Cached {
  version: bigint;
  /** Change to the current version by held version (undefined: holds nothing). */
  byHeld: Map<bigint | undefined, KeyChange>;
  /** The current value, encoded (for snapshots). */
  value: Uint8Array | undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * The fan-out hub of one stream (see the module comment). It is the
 * stream's {@link KeyedSource}: pass `(name) => name === hub.stream ? hub :
 * undefined` as ServerSession's `streams`, and `hub.log` as its `log`.
 */
export class Hub<Desc extends DescMessage> implements KeyedSource {
  /** The stream name. */
  readonly stream: string;
  /** The schema of every value. */
  readonly schema: Desc;
  /** The stream's epoch. */
  readonly epoch: bigint;
  /** The retained log the hub appends to (share it with the sessions for replay). */
  readonly log: RetainedLog;
  /** The keyed state: key → latest value and version. */
  readonly state: KeyedState<Desc>;
  /** Counters. */
  readonly metrics: HubMetrics = {
    changes: 0,
    events: 0,
    changesEncoded: 0,
    encodedBytes: 0,
    deliveries: 0,
    flushes: 0,
    batchMessagesEncoded: 0,
    sharedDeliveries: 0,
    subscriberErrors: 0,
  };
  private readonly hashes: boolean;
  private readonly cache = new Map<string, Cached>();
  /** Offset at which each removed key was removed (until it is set again). */
  private readonly removedAt = new Map<string, bigint>();
  private readonly subscribers = new Map<HubSubscriber, (() => void) | undefined>();
  private pending: PublishItem[] = [];
  /** Stream-wide key id of each pending item (0 for events). */
  private pendingKeyIds: number[] = [];
  /** Whether each pending item introduces its key. */
  private pendingIntroduces: boolean[] = [];
  /** Stream-wide key ids; an id is never given to another key (docs/protocol.md §2). */
  private readonly ids = new Map<string, number>();
  /** Every key's version as of the last flush, followed by the sessions in lockstep (shared-batch.ts). */
  private readonly view = new LockstepView();
  private _offset = 0n;

  /** Creates an empty hub for values of `schema`. Throws DF_ERR_INVALID_ARGUMENT for bad options. */
  constructor(schema: Desc, options: Partial<HubOptions> = {}) {
    const stream = options.stream ?? "default";
    const length = new TextEncoder().encode(stream).length;
    if (length === 0 || length > 256) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        "cannot create hub: stream name must be 1–256 bytes",
        {
          bytes: length,
        },
      );
    }
    const epoch = options.epoch ?? 1n;
    if (epoch <= 0n) {
      throw new DeltaframeError("DF_ERR_INVALID_ARGUMENT", "cannot create hub: epoch must be positive", {
        epoch,
      });
    }
    this.stream = stream;
    this.schema = schema;
    this.epoch = epoch;
    this.log = options.log ?? new InMemoryRetainedLog();
    this.hashes = options.hashes ?? false;
    this.state = new KeyedState(schema, { historyDepth: options.historyDepth ?? 4 });
  }

  /** Offset of the latest change or event (0n before the first). */
  get offset(): bigint {
    return this._offset;
  }

  /** Number of attached subscribers. */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Items published and not yet flushed to the subscribers. */
  get pendingCount(): number {
    return this.pending.length;
  }

  // --- KeyedSource ----------------------------------------------------------

  /** The current keys. */
  keys(): Iterable<string> {
    const state = this.state;
    return (function* () {
      for (const entry of state) yield entry.key;
    })();
  }

  /** The key's current value (encoded once per version) and version, or undefined. */
  get(key: string): KeyEntry | undefined {
    const entry = this.state.get(key);
    if (entry === undefined) return undefined;
    const cached = this.cached(key, entry.version);
    if (cached.value === undefined) {
      cached.value = toBinary(this.schema, entry.value);
      this.countEncoded(cached.value);
    }
    return { key, version: entry.version, value: cached.value };
  }

  /**
   * The change that takes a receiver holding `heldVersion` of `key` to the
   * latest value: a patch from the held value when it is still in the
   * history and smaller, else the full value; a removal when the key is gone
   * but held; undefined when nothing is to be sent. Encoded once per (key,
   * held version, version) and cached until the key changes.
   */
  change(key: string, heldVersion: bigint | undefined): KeyChange | undefined {
    const entry = this.state.get(key);
    if (entry === undefined) {
      const removedAt = this.removedAt.get(key);
      if (heldVersion === undefined || removedAt === undefined) return undefined;
      return { kind: "remove", version: removedAt, body: EMPTY };
    }
    if (heldVersion === entry.version) return undefined;
    const cached = this.cached(key, entry.version);
    const base = heldVersion === undefined ? undefined : this.state.valueAt(key, heldVersion);
    const cacheKey = base === undefined ? undefined : heldVersion;
    const hit = cached.byHeld.get(cacheKey);
    if (hit !== undefined) return hit;
    let change: KeyChange;
    if (base === undefined) {
      const value = this.get(key)!.value;
      change = this.withHash(key, { kind: "full", version: entry.version, body: value });
    } else {
      const c = encodeChange(this.schema, base, entry.value);
      this.countEncoded(c.body);
      change = this.withHash(key, { kind: c.kind, version: entry.version, body: c.body });
      if (c.kind === "full" && cached.value === undefined) cached.value = c.body;
    }
    cached.byHeld.set(cacheKey, change);
    return change;
  }

  /**
   * Returns the stream-wide key id of `key`: a positive integer given on the
   * key's first appearance and kept for the hub's life (also across removal,
   * so a key that comes back keeps its id). Memory: one entry per distinct
   * key ever published.
   */
  keyId(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size + 1;
      this.ids.set(key, id);
    }
    return id;
  }

  // --- publishing -------------------------------------------------------------

  /**
   * Sets `key` to `value` at the next offset: updates the keyed state,
   * encodes the change from the key's previous version once, appends it to
   * the log and queues it for the next {@link flush}. Returns the item.
   * Do not change `value` afterwards. Throws DF_ERR_INVALID_ARGUMENT when
   * `value` is not a message of the schema.
   */
  set(key: string, value: MessageShape<Desc>): PublishedChange {
    const previous = this.state.get(key);
    const offset = this._offset + 1n;
    this.state.set(key, value, offset);
    this._offset = offset;
    this.removedAt.delete(key);
    const change = this.change(key, previous?.version)!;
    const item: PublishedChange = {
      type: "change",
      key,
      offset,
      kind: change.kind,
      body: change.body,
      ...(change.kind === "patch" && previous !== undefined ? { base: previous.version } : {}),
      ...(change.hash !== undefined ? { hash: change.hash } : {}),
    };
    this.push(item, this.keyId(key), previous === undefined);
    this.metrics.changes++;
    return item;
  }

  /** Removes `key` at the next offset; returns the item, or undefined when the key did not exist. */
  remove(key: string): PublishedChange | undefined {
    if (!this.state.has(key)) return undefined;
    const offset = this._offset + 1n;
    this.state.remove(key, offset);
    this._offset = offset;
    this.cache.delete(key);
    this.removedAt.set(key, offset);
    const item: PublishedChange = { type: "change", key, offset, kind: "remove", body: EMPTY };
    this.push(item, this.keyId(key), false);
    this.metrics.changes++;
    return item;
  }

  /** Publishes one lossless event (payload bytes) at the next offset; returns the item. */
  event(payload: Uint8Array): PublishedEvent {
    const offset = this._offset + 1n;
    this._offset = offset;
    const item: PublishedEvent = { type: "event", offset, payload };
    this.push(item, 0, false);
    this.metrics.events++;
    return item;
  }

  /**
   * Attaches a subscriber (a ServerSession); `afterPublish` runs after each
   * flush that gave it items (the adapter's flush, to write them out).
   * Returns a function that detaches it.
   */
  attach(subscriber: HubSubscriber, afterPublish?: () => void): () => void {
    this.subscribers.set(subscriber, afterPublish);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  /**
   * Hands every item published since the last flush, as one
   * {@link SharedBatch}, to every attached subscriber (`publishBatch`, else
   * `publish` with the items), then runs their `afterPublish`. Closed
   * subscribers are detached. Returns the number of items flushed.
   *
   * Subscribers are isolated from each other: one whose `publish` or
   * `afterPublish` throws has missed the batch, so it is detached (and
   * closed with 1011 when it has `close`) and counted in
   * `metrics.subscriberErrors`; every other subscriber still gets the batch,
   * and later flushes go on. The first such error is then rethrown.
   */
  flush(now: number): number {
    const items = this.pending;
    if (items.length === 0) return 0;
    const batch = new SharedBatch(
      this.stream,
      this,
      items,
      this.pendingKeyIds,
      this.pendingIntroduces,
      this.view,
    );
    this.pending = [];
    this.pendingKeyIds = [];
    this.pendingIntroduces = [];
    this.metrics.flushes++;
    let failure: { error: unknown } | undefined;
    for (const [subscriber, after] of this.subscribers) {
      if (subscriber.isClosed === true) {
        this.subscribers.delete(subscriber);
        continue;
      }
      try {
        if (subscriber.publishBatch !== undefined) subscriber.publishBatch(batch, now);
        else subscriber.publish(this.stream, items, now);
        this.metrics.deliveries += items.length;
        after?.();
      } catch (error) {
        failure ??= { error };
        this.detachFailed(subscriber, after, now);
      }
    }
    // Every attached subscriber has had the batch: the view moves past it (sessions that follow it rely on this).
    this.view.advance(batch);
    this.metrics.batchMessagesEncoded += batch.metrics.messagesEncoded;
    this.metrics.sharedDeliveries += batch.metrics.deliveries;
    if (failure !== undefined) throw failure.error;
    return items.length;
  }

  /** Returns the canonical hash of the whole keyed state (compare with a replica's `stateHash`). */
  stateHash(): bigint {
    return this.state.stateHash();
  }

  /**
   * Detaches a subscriber that missed a batch (its offsets would have a gap)
   * and closes it with 1011, so that its client reconnects and resumes.
   */
  private detachFailed(subscriber: HubSubscriber, after: (() => void) | undefined, now: number): void {
    this.subscribers.delete(subscriber);
    this.metrics.subscriberErrors++;
    try {
      if (subscriber.isClosed !== true) subscriber.close?.(1011, "internal error", now);
      after?.();
    } catch {
      // Already failing: the error that detached it is the one reported.
    }
  }

  private push(item: PublishItem, keyId: number, introduces: boolean): void {
    this.log.append(this.stream, item);
    this.pending.push(item);
    this.pendingKeyIds.push(keyId);
    this.pendingIntroduces.push(introduces);
  }

  private cached(key: string, version: bigint): Cached {
    let c = this.cache.get(key);
    if (c === undefined || c.version !== version) {
      c = { version, byHeld: new Map(), value: undefined };
      this.cache.set(key, c);
    }
    return c;
  }

  private countEncoded(body: Uint8Array): void {
    this.metrics.changesEncoded++;
    this.metrics.encodedBytes += body.length;
  }

  private withHash(key: string, change: KeyChange): KeyChange {
    if (!this.hashes) return change;
    const hash = this.state.hashOf(key);
    return hash === undefined ? change : { ...change, hash };
  }
}
