/**
 * One `Updates` frame being assembled: consecutive keyed changes of one
 * subscription laid out as the frame's columns (docs/protocol.md §6.1). The
 * server session builds its runs with it, and so does {@link SharedBatch}, so
 * that a batch encoded once for many sessions has exactly the bytes each
 * session would have written for itself.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import {
  type Frame,
  type KeyBinding,
  KeyBindingSchema,
  type Updates,
  UpdatesSchema,
} from "../gen/deltaframe/v1/frames_pb.js";
import type { ChangeKind } from "./types.js";
import { frame } from "./wire.js";

/** The `sizes` column's kind bits of each change kind (docs/protocol.md §6.1). */
const KIND_BITS: Record<ChangeKind, number> = { full: 0, patch: 1, remove: 2 };

/**
 * Bound on the bytes of an `Updates` frame around its updates: the frame and
 * batch headers, alias, first offset, and each column's tag and length.
 */
export const RUN_FIXED_BYTES = 64;
/** Bound on the column bytes of one update: key id and size varints (5 each), step (10), hash (9). */
const UPDATE_COLUMN_BYTES = 29;
/** Bound on a binding's bytes beyond its key's UTF-8 bytes: tags, lengths, key id. */
const BINDING_BYTES = 12;

/**
 * Returns the frame bytes (as bounded by {@link UpdatesRun.boundBytes}) after
 * which a sender starts a new `Updates` frame rather than growing the current
 * one: half the peer's message size, so a frame always fits in its transport
 * message with room for others. A single update larger than that still
 * gets a frame of its own.
 */
export function runBudgetBytes(sendMaxBytes: number): number {
  return Math.floor(sendMaxBytes / 2);
}

/** Returns the bound on what one update adds to a run (see {@link UpdatesRun.boundBytes}). */
export function updateBoundBytes(bodyBytes: number, bindKey: string | undefined): number {
  // A UTF-16 code unit is at most 3 UTF-8 bytes.
  return bodyBytes + UPDATE_COLUMN_BYTES + (bindKey === undefined ? 0 : bindKey.length * 3 + BINDING_BYTES);
}

/** Bound on the bytes of a transport message holding one `Event` frame beyond its payload: marker, batch entry, frame and event tags, alias, offset. */
const EVENT_FIXED_BYTES = 40;

/**
 * Returns a bound on the transport message that carries one keyed change of
 * `bodyBytes` for `key` alone, in its own `Updates` frame with its key bound.
 * A change over the peer's message size can never be delivered.
 */
export function changeMessageBoundBytes(bodyBytes: number, key: string): number {
  return RUN_FIXED_BYTES + updateBoundBytes(bodyBytes, key);
}

/** Returns a bound on the transport message that carries one event of `payloadBytes` alone. */
export function eventMessageBoundBytes(payloadBytes: number): number {
  return EVENT_FIXED_BYTES + payloadBytes;
}

/** Most bindings in one bindings-only frame (well under the default `maxListLength`, 65,536). */
const MAX_BINDINGS_PER_FRAME = 4096;

/**
 * Returns `Updates` frames of `alias` that carry only key bindings (no
 * updates, so no flow-control messages): how a server names keys its client
 * holds but this subscription never bound — after a resume — before it sends
 * frames shared with other connections (docs/protocol.md §2, §6.1). Each
 * frame stays within {@link runBudgetBytes} of `sendMaxBytes` and holds at
 * most 4,096 bindings.
 */
export function bindingFrames(
  alias: number,
  bindings: ReadonlyArray<readonly [key: string, keyId: number]>,
  sendMaxBytes: number,
): Frame[] {
  const budget = runBudgetBytes(sendMaxBytes) - RUN_FIXED_BYTES;
  const frames: Frame[] = [];
  let part: KeyBinding[] = [];
  let bytes = 0;
  const close = () => {
    if (part.length > 0)
      frames.push(frame({ case: "updates", value: create(UpdatesSchema, { alias, bindings: part }) }));
    part = [];
    bytes = 0;
  };
  for (const [key, keyId] of bindings) {
    const size = key.length * 3 + BINDING_BYTES;
    if (part.length === MAX_BINDINGS_PER_FRAME || (part.length > 0 && bytes + size > budget)) close();
    part.push(create(KeyBindingSchema, { keyId, key }));
    bytes += size;
  }
  close();
  return frames;
}

/** An `Updates` frame under construction (see the module comment). */
export class UpdatesRun {
  /** The frame's columns so far (bodies are joined by {@link seal}). */
  readonly updates: Updates;
  /** Whether every update carries a hash (`hashes` column). */
  readonly hashed: boolean;
  /** Sum of the bodies' sizes so far. */
  bodyBytes = 0;
  /** An upper bound on the encoded frame's size so far (before shaped packing, which only shrinks it). */
  boundBytes = RUN_FIXED_BYTES;
  /** Version of the last update added (one less than the first before any). */
  last: bigint;
  private readonly parts: Uint8Array[] = [];

  /**
   * Starts a run of `alias` whose first update has version `firstVersion`;
   * `implicit` writes `first_offset` 0 (the receiver's next expected offset:
   * the caller checks that it is exactly `firstVersion`).
   */
  constructor(alias: number, firstVersion: bigint, implicit: boolean, hashed: boolean) {
    this.updates = create(UpdatesSchema, { alias, firstOffset: implicit ? 0n : firstVersion });
    this.hashed = hashed;
    this.last = firstVersion - 1n;
  }

  /** Number of updates added. */
  get count(): number {
    return this.updates.keyIds.length;
  }

  /**
   * Appends one change: key id, a binding of `bindKey` to it when given,
   * version (a step from the previous one), kind and body, and the hash when
   * the run is hashed.
   */
  add(
    keyId: number,
    bindKey: string | undefined,
    version: bigint,
    kind: ChangeKind,
    body: Uint8Array,
    hash: bigint | undefined,
  ): void {
    const u = this.updates;
    if (bindKey !== undefined) u.bindings.push(create(KeyBindingSchema, { keyId, key: bindKey }));
    if (u.keyIds.length > 0) {
      const step = version - this.last;
      if (step !== 1n && u.steps.length === 0) for (let i = 1; i < u.keyIds.length; i++) u.steps.push(1n);
      if (step !== 1n || u.steps.length > 0) u.steps.push(step);
    }
    u.keyIds.push(keyId);
    u.sizes.push(body.length * 4 + KIND_BITS[kind]);
    if (this.hashed) u.hashes.push(hash ?? 0n);
    this.parts.push(body);
    this.bodyBytes += body.length;
    this.boundBytes += updateBoundBytes(body.length, bindKey);
    this.last = version;
  }

  /** Joins the bodies and returns the finished frame; the run must not be used afterwards. */
  seal(): Frame {
    const bodies = new Uint8Array(this.bodyBytes);
    let pos = 0;
    for (const p of this.parts) {
      bodies.set(p, pos);
      pos += p.length;
    }
    this.updates.bodies = bodies;
    return frame({ case: "updates", value: this.updates });
  }
}
