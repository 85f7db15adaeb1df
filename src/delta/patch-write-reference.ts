/**
 * The reference implementation of computing patches: walks both messages
 * through reflection, skipping fields that local-equal.ts shows to be equal.
 * Kept as the oracle of the differential tests of {@link diff}
 * (test/delta/diff-differential.prop.test.ts), which must return identical
 * bytes.
 *
 * @module
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { fieldLocalEqual } from "./local-equal.js";
import {
  concat,
  type DiffOptions,
  diffList,
  diffMap,
  diffMessageField,
  diffSingular,
  type Local,
  type Ops,
  type WriteContext,
  writeContext,
} from "./patch-write-general.js";
import { sortedFields } from "./value-codec.js";

/**
 * Returns the patch that turns `base` into `target`, like {@link diff}, with
 * the same bytes; slower. Kept as the reference that the differential tests
 * compare {@link diff} against. Options default as in {@link diff}.
 */
export function diffReference<Desc extends DescMessage>(
  schema: Desc,
  base: MessageShape<Desc>,
  target: MessageShape<Desc>,
  options?: Partial<DiffOptions>,
): Uint8Array {
  const ctx = writeContext(options, diffMessage);
  const ops = diffMessage(reflect(schema, base, false), reflect(schema, target, false), ctx);
  return concat(ops);
}

function diffMessage(a: ReflectMessage, b: ReflectMessage, ctx: WriteContext): Ops {
  const ops: Ops = [];
  const la = a.message as Local;
  const lb = b.message as Local;
  for (const field of sortedFields(a.desc)) {
    if (fieldLocalEqual(field, la, lb)) continue;
    switch (field.fieldKind) {
      case "scalar":
      case "enum":
        diffSingular(a, b, field, ops, ctx);
        break;
      case "message":
        diffMessageField(a, b, field, ops, ctx);
        break;
      case "list":
        diffList(a, b, field, ops, ctx);
        break;
      case "map":
        diffMap(a, b, field, ops, ctx);
        break;
    }
  }
  return ops;
}
