/**
 * How a server subscription takes a {@link SharedBatch} as it is: the checks
 * that its client holds exactly what the batch was encoded against, and the
 * source's {@link LockstepView} that a subscription in lockstep follows
 * instead of keeping per-key state (shared-batch.ts explains the scheme;
 * `ServerSession.publishBatch` uses these).
 *
 * @module
 */
import { applyBatch, type LockstepView, type SharedBatch } from "./shared-batch.js";
import type { Sub } from "./subscription.js";
import type { PublishedChange } from "./types.js";

/**
 * Batches a subscription lets pass after a failed attempt to follow a
 * lockstep view before it tries again: each attempt compares O(keys)
 * versions, so a client that differs for a while costs that once per this
 * many batches rather than per batch.
 */
export const FOLLOW_BACKOFF_BATCHES = 16;

/** Whether the subscription follows `view` and is as of its offset: it then holds exactly the view's versions. */
export function isFollowing(sub: Sub, view: LockstepView | undefined): boolean {
  return view !== undefined && sub.view === view && view.offset === sub.lastPublished;
}

/**
 * Records in the subscription's own per-key maps what a shared batch taken
 * without following the view gave its client: each change's version, each
 * removal, each key the batch binds.
 */
export function recordShared(sub: Sub, batch: SharedBatch): void {
  const { items, keyIds, introduces } = batch;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.type !== "change") continue;
    if (item.kind === "remove") {
      sub.held.delete(item.key);
      continue;
    }
    sub.held.set(item.key, item.offset);
    if (introduces[i] === true) sub.keyIds.set(item.key, keyIds[i]!);
  }
}

/**
 * Whether the client holds, key by key, exactly what `batch` was encoded
 * against: each patch's base, every key the batch does not bind (under the
 * same id), none of the keys it binds.
 */
export function holdsBases(sub: Sub, batch: SharedBatch): boolean {
  const { items, keyIds, introduces, previousIndex } = batch;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.type !== "change") continue;
    // What the client holds of the key just before this item: the batch's earlier change of it, else its held version.
    const p = previousIndex[i]!;
    let held: bigint | undefined;
    let id: number | undefined;
    if (p >= 0) {
      const earlier = items[p] as PublishedChange;
      held = earlier.kind === "remove" ? undefined : earlier.offset;
      id = keyIds[p];
    } else {
      held = sub.held.get(item.key);
      id = sub.keyIds.get(item.key);
    }
    if (introduces[i] === true) {
      if (held !== undefined || (id !== undefined && id !== keyIds[i])) return false;
    } else if (
      held === undefined ||
      id !== keyIds[i] ||
      (item.kind === "patch" ? item.base !== held : held >= item.offset)
    ) {
      return false;
    }
  }
  return true;
}

/**
 * Whether the subscription can start following `view`: its client holds
 * exactly the view's versions, each key bound to the source's id or not
 * bound on this connection at all (keys it held before a resume, which
 * {@link follow} binds). O(keys), so after a failed attempt the next waits
 * {@link FOLLOW_BACKOFF_BATCHES} batches.
 */
export function canFollow(sub: Sub, view: LockstepView): boolean {
  const keyId = sub.source.keyId;
  if (keyId === undefined || view.offset !== sub.lastPublished) return false;
  if (sub.followBackoff > 0) {
    sub.followBackoff--;
    return false;
  }
  let same = sub.held.size === view.versions.size;
  if (same) {
    for (const [key, version] of view.versions) {
      const id = sub.keyIds.get(key);
      if (sub.held.get(key) !== version || (id !== undefined && id !== keyId.call(sub.source, key))) {
        same = false;
        break;
      }
    }
  }
  if (!same) sub.followBackoff = FOLLOW_BACKOFF_BATCHES;
  return same;
}

/**
 * Starts following `view` (after {@link canFollow}) and frees the per-key
 * maps. Returns the keys the client holds but this connection has not
 * bound, with the source's ids: the caller sends them as bindings
 * (`bindingFrames`) before any shared frame, so that those can name them.
 */
export function follow(sub: Sub, view: LockstepView): Array<[string, number]> {
  const keyId = sub.source.keyId!;
  const unbound: Array<[string, number]> = [];
  for (const key of view.versions.keys()) {
    if (!sub.keyIds.has(key)) unbound.push([key, keyId.call(sub.source, key)]);
  }
  sub.view = view;
  sub.viewBatch = undefined;
  sub.held = new Map();
  sub.keyIds = new Map();
  return unbound;
}

/**
 * Stops following the lockstep view: the view's versions as of
 * `lastPublished` become the subscription's own `held` (O(keys)). Should
 * the view not be as of that offset, what the client holds is unknown and
 * the whole stream is resynced. (Through a hub that cannot happen: the hub
 * advances the view only after handing the batch to every session, and a
 * session that misses a batch fails its next publish on the offset gap.)
 */
export function materialize(sub: Sub): void {
  const view = sub.view;
  if (view === undefined) return;
  const batch = sub.viewBatch;
  sub.view = undefined;
  sub.viewBatch = undefined;
  const held = new Map(view.versions);
  let at = view.offset;
  if (batch !== undefined && at === batch.firstOffset - 1n) {
    applyBatch(held, batch);
    at = batch.lastOffset;
  }
  if (at !== sub.lastPublished) {
    sub.resyncAll = true;
    return;
  }
  const keyIds = new Map<string, number>();
  const keyId = sub.source.keyId!;
  for (const key of held.keys()) keyIds.set(key, keyId.call(sub.source, key));
  sub.held = held;
  sub.keyIds = keyIds;
}
