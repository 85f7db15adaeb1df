/**
 * Human-readable rendering of decoded patches, for `deltaframe inspect` and
 * debugging.
 *
 * @module
 */
import type { DescField } from "@bufbuild/protobuf";
import type { ReflectList, ReflectMap, ReflectMessage } from "@bufbuild/protobuf/reflect";
import { isReflectList, isReflectMap, isReflectMessage } from "@bufbuild/protobuf/reflect";
import type { MapKey, PatchOperation, PatchStep } from "./patch-op.js";

function fieldName(field: DescField): string {
  return `${field.name}(${field.number})`;
}

function keyText(key: MapKey): string {
  return typeof key === "string" ? JSON.stringify(key) : String(key);
}

function stepText(step: PatchStep): string {
  switch (step.kind) {
    case "descend":
      return fieldName(step.field);
    case "element":
      return `${fieldName(step.field)}[${step.index}]`;
    case "mapDescend":
      return `${fieldName(step.field)}{${keyText(step.key)}}`;
  }
}

function valueText(value: unknown): string {
  if (isReflectMessage(value)) return `${(value as ReflectMessage).desc.typeName}{…}`;
  if (isReflectList(value)) return `[${(value as ReflectList).size} items]`;
  if (isReflectMap(value)) return `{${(value as ReflectMap).size} entries}`;
  if (value instanceof Uint8Array)
    return `0x${Array.from(value, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  return String(value);
}

/**
 * Returns one line describing a decoded patch operation, e.g.
 * `selections(5)[7] > price_ticks(3) ADD +1` or `name(2) SET "x"`. Field
 * names come from the schema; numbers in parentheses are what the wire carries.
 */
export function formatPatchOperation(op: PatchOperation): string {
  const a = op.action;
  const target = [...op.path.map(stepText), fieldName(a.field)].join(" > ");
  switch (a.kind) {
    case "set":
      return `${target} SET ${valueText(a.value)}`;
    case "clear":
      return `${target} CLEAR`;
    case "add":
      return `${target} ADD ${a.delta >= 0n ? "+" : ""}${a.delta}`;
    case "mapPut":
      return `${target} MAP_PUT ${keyText(a.key)} = ${valueText(a.value)}`;
    case "mapRemove":
      return `${target} MAP_REMOVE ${keyText(a.key)}`;
  }
}
