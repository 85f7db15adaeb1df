/**
 * A batch of one stream's items encoded once and shared by every session that
 * is in lockstep with the stream (DESIGN §3, §4.8).
 *
 * Theory of operation. A fan-out source (the hub) names keys with
 * stream-wide key ids ({@link KeyedSource.keyId}), so two subscriptions of
 * the same stream under the same alias would write byte-identical `Updates`
 * and `Event` frames for the same items. A {@link SharedBatch} holds one
 * flush of such items. A server session that receives it
 * ({@link ServerSession.publishBatch}) takes the shared bytes only when they
 * are exactly what it would have written itself:
 *
 * - its live lane is clear (no sync in progress, nothing conflated or
 *   queued, no resync or `Skipped` notice pending, no per-key rate limit) and
 *   has seen every offset before the batch, so each run's `first_offset` is
 *   implicit;
 * - its client holds exactly each patch's base, holds every key the batch
 *   does not bind, and does not hold the keys it binds;
 * - its credit covers every item of the batch, in messages and bytes, and
 *   every item fits in one of its client's messages;
 * - the batch is, or can still be, encoded for its wire settings (below).
 *
 * Otherwise the session falls back to framing the same items itself, which
 * is always correct. Either way it does its own accounting (credit, held
 * versions, key bindings) — the parts that differ per connection never enter
 * the shared bytes.
 *
 * Checking the first two conditions key by key would cost every session
 * O(items) per batch. A source that publishes only through shared batches
 * keeps one {@link LockstepView} for all its sessions instead: the version of
 * every key as of the last batch delivered. A session whose client is known
 * to hold exactly that state follows the view: it keeps no per-key state of
 * its own, and takes each next batch of the view in O(1) — the cost of one
 * more subscriber is then its credit check, its share of the messages and its
 * ack. When it must leave (its credit runs out, its client asks for a resync,
 * items reach it another way), it copies the view's versions as its own
 * (O(keys), once) and goes on as any session. It enters by comparing its own
 * per-key state with the view's, at a batch boundary.
 *
 * The bytes also depend on the connection's wire settings: alias, whether
 * the client takes hashes, its message size and frame limits, and
 * compression. The batch encodes (and compresses) once per distinct set of
 * settings, up to {@link MAX_SHARED_VARIANTS} sets; sessions with yet other
 * settings frame the items themselves.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { DeltaframeError } from "../errors.js";
import { EventSchema } from "../gen/deltaframe/v1/frames_pb.js";
import type { KeyedSource, PublishItem } from "./types.js";
import {
  changeMessageBoundBytes,
  eventMessageBoundBytes,
  runBudgetBytes,
  UpdatesRun,
  updateBoundBytes,
} from "./updates-run.js";
import {
  batchEntryBytes,
  EncodedMessage,
  encodeFrameBytes,
  encodeMessage,
  fitsMessage,
  frame,
  MESSAGE_OVERHEAD_BYTES,
  type WireCompression,
} from "./wire.js";

/**
 * Most distinct wire settings one batch is encoded for. Deployments usually
 * have one or two (clients built from the same code); the bound keeps a
 * client population with scattered settings from multiplying the encoding
 * work, at the cost of those clients framing for themselves.
 */
export const MAX_SHARED_VARIANTS = 8;

/** The wire settings of one connection that shape a batch's bytes. */
export interface SharedWire {
  /** The subscription's alias on this connection. */
  readonly alias: number;
  /** Whether the connection negotiated CAPABILITY_HASH. */
  readonly hashes: boolean;
  /** Largest transport message the peer accepts. */
  readonly maxMessageBytes: number;
  /** Most frames in one transport message. */
  readonly maxFramesPerBatch: number;
  /** Per-message compression in force. */
  readonly compression: WireCompression;
}

/** Counters of one {@link SharedBatch}. */
export interface SharedBatchMetrics {
  /** Distinct wire settings the batch was encoded for. */
  encodings: number;
  /** Transport messages encoded, over all encodings. */
  messagesEncoded: number;
  /** Bytes of those messages. */
  bytesEncoded: number;
  /** Sessions that sent the shared messages. */
  deliveries: number;
}

interface Variant {
  readonly wire: SharedWire;
  readonly messages: readonly EncodedMessage[];
}

/**
 * The version of every key of a stream as of one offset, shared by the
 * sessions that follow it (see the module comment). The source that owns it
 * advances it with each batch after delivering the batch to every session.
 */
export class LockstepView {
  /** The offset the versions are as of: the last item of the last batch delivered. */
  private _offset: bigint;
  /** Version of each key present at `offset`. */
  readonly versions = new Map<string, bigint>();

  /** Creates a view of an empty stream at `offset` (the stream's offset before its first batch). */
  constructor(offset = 0n) {
    this._offset = offset;
  }

  /** The offset the versions are as of. */
  get offset(): bigint {
    return this._offset;
  }

  /**
   * Applies `batch`, which must start right after {@link offset}: its
   * changes become the keys' versions, removals drop keys. Throws
   * DF_ERR_INVALID_ARGUMENT otherwise.
   */
  advance(batch: SharedBatch): void {
    if (batch.firstOffset !== this._offset + 1n) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        "cannot advance lockstep view: batch does not follow it",
        {
          offset: this._offset,
          firstOffset: batch.firstOffset,
        },
      );
    }
    applyBatch(this.versions, batch);
    this._offset = batch.lastOffset;
  }
}

/** Applies the changes of `batch` to a key → version map (removals delete). */
export function applyBatch(versions: Map<string, bigint>, batch: SharedBatch): void {
  for (const item of batch.items) {
    if (item.type !== "change") continue;
    if (item.kind === "remove") versions.delete(item.key);
    else versions.set(item.key, item.offset);
  }
}

/** One flush of a stream's items, encoded at most once per wire setting (see the module comment). */
export class SharedBatch {
  /** The stream's name. */
  readonly stream: string;
  /** The source whose key ids `keyIds` holds; sessions share only batches of the source they read. */
  readonly source: KeyedSource;
  /**
   * The source's lockstep view, as of the offset just before this batch
   * while the batch is delivered; undefined when the source keeps none.
   */
  readonly view: LockstepView | undefined;
  /** The items, in consecutive offset order. */
  readonly items: readonly PublishItem[];
  /** Stream-wide key id of each change (0 for events). */
  readonly keyIds: readonly number[];
  /** Whether each change introduces its key (absent from the stream just before): its binding goes in the frame. */
  readonly introduces: readonly boolean[];
  /** Index of the previous change of the same key in the batch, or -1 (for events too). */
  readonly previousIndex: Int32Array;
  /** Offset of the first item. */
  readonly firstOffset: bigint;
  /** Offset of the last item. */
  readonly lastOffset: bigint;
  /** Flow-control messages: one per change and per event. */
  readonly messageCount: number;
  /** Flow-control payload bytes: the sum of bodies and event payloads. */
  readonly payloadBytes: number;
  /**
   * The bound on a transport message carrying the batch's largest item
   * alone (`changeMessageBoundBytes`, `eventMessageBoundBytes`): a
   * connection whose messages are smaller cannot take every item.
   */
  readonly largestMessageBoundBytes: number;
  /** Counters. */
  readonly metrics: SharedBatchMetrics = { encodings: 0, messagesEncoded: 0, bytesEncoded: 0, deliveries: 0 };
  private readonly variants: Variant[] = [];

  /**
   * Wraps `items` of `stream` read from `source`, with each change's key id
   * and whether it introduces its key; `view` is the source's
   * {@link LockstepView}, if it keeps one (it must be as of the offset just
   * before the batch). Throws DF_ERR_INVALID_ARGUMENT when there are no
   * items, the columns' lengths differ, offsets are not consecutive, a key
   * id is not a positive integer, a key has two ids, a patch's base does not
   * precede it, a removal has a body, or the view is as of another offset.
   */
  constructor(
    stream: string,
    source: KeyedSource,
    items: readonly PublishItem[],
    keyIds: readonly number[],
    introduces: readonly boolean[],
    view?: LockstepView,
  ) {
    const bad = (why: string, data: Record<string, unknown> = {}) =>
      new DeltaframeError("DF_ERR_INVALID_ARGUMENT", `cannot build shared batch: ${why}`, data);
    if (items.length === 0) throw bad("no items");
    if (keyIds.length !== items.length || introduces.length !== items.length) {
      throw bad("items, key ids and introductions differ in length", {
        items: items.length,
        keyIds: keyIds.length,
        introduces: introduces.length,
      });
    }
    let payloadBytes = 0;
    let largest = 0;
    const previousIndex = new Int32Array(items.length).fill(-1);
    const lastIndex = new Map<string, number>();
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i > 0 && item.offset !== items[i - 1]!.offset + 1n) {
        throw bad("offsets must be consecutive", { index: i, offset: item.offset });
      }
      if (item.type === "event") {
        payloadBytes += item.payload.length;
        largest = Math.max(largest, eventMessageBoundBytes(item.payload.length));
        continue;
      }
      if (item.type !== "change") throw bad("unknown item type", { index: i });
      const id = keyIds[i]!;
      if (!Number.isInteger(id) || id < 1 || id > 0xffff_ffff)
        throw bad("key id out of range", { index: i, id });
      if (item.kind === "patch" && item.base !== undefined && item.base >= item.offset) {
        throw bad("patch base must precede its offset", {
          key: item.key,
          base: item.base,
          offset: item.offset,
        });
      }
      if (item.kind === "remove" && item.body.length !== 0)
        throw bad("a removal has no body", { key: item.key });
      const previous = lastIndex.get(item.key);
      if (previous !== undefined) {
        if (keyIds[previous] !== id) throw bad("a key has two key ids", { key: item.key });
        previousIndex[i] = previous;
      }
      lastIndex.set(item.key, i);
      payloadBytes += item.body.length;
      largest = Math.max(largest, changeMessageBoundBytes(item.body.length, item.key));
    }
    if (view !== undefined && view.offset + 1n !== items[0]!.offset) {
      throw bad("the lockstep view is not as of the offset before the batch", {
        viewOffset: view.offset,
        firstOffset: items[0]!.offset,
      });
    }
    this.stream = stream;
    this.source = source;
    this.view = view;
    this.items = items;
    this.keyIds = keyIds;
    this.introduces = introduces;
    this.previousIndex = previousIndex;
    this.firstOffset = items[0]!.offset;
    this.lastOffset = items[items.length - 1]!.offset;
    this.messageCount = items.length;
    this.payloadBytes = payloadBytes;
    this.largestMessageBoundBytes = largest;
  }

  /** Whether {@link messagesFor} gives messages for these wire settings: already encoded, or a variant is free. */
  canEncodeFor(wire: SharedWire): boolean {
    return this.variants.length < MAX_SHARED_VARIANTS || this.variants.some((v) => sameWire(v.wire, wire));
  }

  /**
   * Returns the transport messages of the batch for a connection with these
   * wire settings, encoding (and compressing) them on the first request for
   * those settings; undefined when {@link MAX_SHARED_VARIANTS} other settings
   * are already encoded. Every session given the same array sends the same
   * bytes: never modify them.
   */
  messagesFor(wire: SharedWire): readonly EncodedMessage[] | undefined {
    for (const v of this.variants) if (sameWire(v.wire, wire)) return v.messages;
    if (this.variants.length >= MAX_SHARED_VARIANTS) return undefined;
    const messages = this.encode(wire);
    this.variants.push({ wire: { ...wire }, messages });
    this.metrics.encodings++;
    this.metrics.messagesEncoded += messages.length;
    for (const m of messages) this.metrics.bytesEncoded += m.bytes.length;
    return messages;
  }

  /** Lays the items out as a session in lockstep would (same runs, same packing) and encodes them. */
  private encode(wire: SharedWire): EncodedMessage[] {
    const frames: Uint8Array[] = [];
    const runBudget = runBudgetBytes(wire.maxMessageBytes);
    let run: UpdatesRun | undefined;
    let seen = this.firstOffset - 1n;
    const closeRun = () => {
      if (run !== undefined) frames.push(encodeFrameBytes(run.seal()));
      run = undefined;
    };
    for (let i = 0; i < this.items.length; i++) {
      const item = this.items[i]!;
      if (item.type === "event") {
        closeRun();
        const value = create(EventSchema, { alias: wire.alias, offset: item.offset, payload: item.payload });
        frames.push(encodeFrameBytes(frame({ case: "event", value })));
      } else {
        const hashed = item.hash !== undefined && wire.hashes;
        const bind = this.introduces[i] === true ? item.key : undefined;
        if (
          run === undefined ||
          run.hashed !== hashed ||
          run.boundBytes + updateBoundBytes(item.body.length, bind) > runBudget
        ) {
          closeRun();
          run = new UpdatesRun(wire.alias, item.offset, item.offset === seen + 1n, hashed);
        }
        run.add(this.keyIds[i]!, bind, item.offset, item.kind, item.body, item.hash);
      }
      seen = item.offset;
    }
    closeRun();
    const budget = wire.maxMessageBytes - MESSAGE_OVERHEAD_BYTES;
    const messages: EncodedMessage[] = [];
    let parts: Uint8Array[] = [];
    let used = 0;
    for (const f of frames) {
      const size = batchEntryBytes(f.length);
      if (!fitsMessage(parts.length, used, size, budget, wire.maxFramesPerBatch)) {
        messages.push(new EncodedMessage(encodeMessage(parts, wire.compression), parts.length));
        parts = [];
        used = 0;
      }
      parts.push(f);
      used += size;
    }
    if (parts.length > 0)
      messages.push(new EncodedMessage(encodeMessage(parts, wire.compression), parts.length));
    return messages;
  }
}

function sameWire(a: SharedWire, b: SharedWire): boolean {
  if (
    a.alias !== b.alias ||
    a.hashes !== b.hashes ||
    a.maxMessageBytes !== b.maxMessageBytes ||
    a.maxFramesPerBatch !== b.maxFramesPerBatch ||
    a.compression.enabled !== b.compression.enabled
  ) {
    return false;
  }
  return (
    !a.compression.enabled ||
    (a.compression.thresholdBytes === b.compression.thresholdBytes &&
      a.compression.deflater === b.compression.deflater)
  );
}
