/**
 * The structured form of a patch, as {@link decodePatch} returns it.
 *
 * On the wire (proto/deltaframe/v1/patch.proto) a patch is a sequence of
 * operation headers `(field_number << 3) | kind`. The navigation kinds
 * (DESCEND, ELEMENT, MAP_DESCEND) scope exactly the one operation that follows
 * them, so every change is a *chain*: zero or more navigation steps, then one
 * action (SET, CLEAR, ADD, MAP_PUT, MAP_REMOVE). Two changes inside the same
 * nested message repeat the navigation prefix. {@link PatchOperation} is one
 * such chain.
 *
 * @module
 */
import type { DescField } from "@bufbuild/protobuf";
import type { ReflectList, ReflectMap, ReflectMessage } from "@bufbuild/protobuf/reflect";
import type { MapKey } from "./value-codec.js";

export type { MapKey } from "./value-codec.js";

/** One navigation step of a patch operation: where the action applies. */
export type PatchStep =
  /** PATCH_OP_DESCEND: into the singular message field (created empty when absent). */
  | { readonly kind: "descend"; readonly field: DescField }
  /** PATCH_OP_ELEMENT: into element `index` of a repeated message field. */
  | { readonly kind: "element"; readonly field: DescField; readonly index: number }
  /** PATCH_OP_MAP_DESCEND: into the message value at `key` of a map field (which must exist). */
  | { readonly kind: "mapDescend"; readonly field: DescField; readonly key: MapKey };

/**
 * The value of a SET action: a scalar (number, bigint, boolean, string,
 * Uint8Array), an enum number, a message (`ReflectMessage`), a whole list
 * (`ReflectList`) or a whole map (`ReflectMap`).
 */
export type PatchValue = unknown | ReflectMessage | ReflectList | ReflectMap;

/** The action that ends a patch operation. */
export type PatchAction =
  /** PATCH_OP_SET: set the field (a list or map is replaced whole). */
  | { readonly kind: "set"; readonly field: DescField; readonly value: PatchValue }
  /** PATCH_OP_CLEAR: unset presence, empty a list or map, or leave a oneof. */
  | { readonly kind: "clear"; readonly field: DescField }
  /** PATCH_OP_ADD: add `delta` to an integer field, wrapping at its width. */
  | { readonly kind: "add"; readonly field: DescField; readonly delta: bigint }
  /** PATCH_OP_MAP_PUT: insert or replace one map entry. */
  | { readonly kind: "mapPut"; readonly field: DescField; readonly key: MapKey; readonly value: PatchValue }
  /** PATCH_OP_MAP_REMOVE: remove one map entry (which must exist). */
  | { readonly kind: "mapRemove"; readonly field: DescField; readonly key: MapKey };

/** One change of a patch: navigation steps from the root message, then an action. */
export interface PatchOperation {
  /** Navigation from the root message, outermost first; empty for a root field. */
  readonly path: readonly PatchStep[];
  /** What to do at the end of the path. */
  readonly action: PatchAction;
}
