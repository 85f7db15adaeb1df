/**
 * The delta layer: schema-driven field-level patches for any protobuf-es
 * message (proto/deltaframe/v1/patch.proto, docs/protocol.md §6), canonical
 * hashes, keyed state with versions on the sending side and replicas on the
 * receiving side (DESIGN §5).
 *
 * @module
 */
export { type ApplyOptions, apply } from "./apply.js";
export { applyReference } from "./apply-reference.js";
export { type Change, encodeChange } from "./encode-change.js";
export { encodeCanonical, fnv1a64, hash, hashEntry, hashState } from "./hash.js";
export {
  type KeyChange,
  type KeyedEntry,
  KeyedState,
  type KeyedStateOptions,
} from "./keyed-state.js";
export { formatPatchOperation } from "./patch-format.js";
export type { MapKey, PatchAction, PatchOperation, PatchStep, PatchValue } from "./patch-op.js";
export { decodePatch } from "./patch-read.js";
export { type DiffOptions, diff } from "./patch-write.js";
export { diffReference } from "./patch-write-reference.js";
export {
  Replica,
  type ReplicaEntry,
  type ReplicaOptions,
  type ReplicaResult,
  type ReplicaUpdate,
} from "./replica.js";
