import { create, createFileRegistry, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { apply, diff, encodeCanonical, hash } from "deltaframe/delta";
import { describe, expect, it } from "vitest";

// A proto2 schema with groups (delimited encoding) and a default value, built at runtime:
//   message G { optional group Item = 1 { optional int32 a = 2 [default = 7]; }
//               repeated group Row = 3 { optional string s = 4; }
//               optional int32 d = 5 [default = 9]; }
const file = create(FileDescriptorProtoSchema, {
  name: "delimited.proto",
  package: "t",
  syntax: "proto2",
  messageType: [
    {
      name: "G",
      field: [
        { name: "item", number: 1, label: 1, type: 10, typeName: ".t.G.Item" },
        { name: "row", number: 3, label: 3, type: 10, typeName: ".t.G.Row" },
        { name: "d", number: 5, label: 1, type: 5, defaultValue: "9" },
      ],
      nestedType: [
        { name: "Item", field: [{ name: "a", number: 2, label: 1, type: 5, defaultValue: "7" }] },
        { name: "Row", field: [{ name: "s", number: 4, label: 1, type: 9 }] },
      ],
    },
  ],
});
const registry = createFileRegistry(file, () => undefined);
const G = registry.getMessage("t.G")!;

describe("delimited (group) fields and proto2 defaults", () => {
  it("diff and apply round-trip groups, repeated groups and explicit defaults", () => {
    const a = create(G);
    const b = create(G);
    const rb = reflect(G, b);
    const item = reflect(G.field.item!.message!, undefined);
    item.set(item.desc.field.a!, 7); // explicitly set to the default value
    rb.set(G.field.item!, item);
    const rows = rb.get(G.field.row!) as unknown as { add(v: unknown): void };
    for (const s of ["x", "y"]) {
      const row = reflect(G.field.row!.message!, undefined);
      row.set(row.desc.field.s!, s);
      rows.add(row);
    }
    rb.set(G.field.d!, 9); // explicit default
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      const p = diff(G, x!, y!);
      const r = apply(G, x!, p);
      expect(equals(G, r, y!)).toBe(true);
      expect(toBinary(G, r)).toEqual(toBinary(G, y!));
    }
    // Presence of explicit default values is a difference.
    expect(diff(G, a, b).length).toBeGreaterThan(0);
    expect(hash(G, a)).not.toBe(hash(G, b));
    // The canonical encoding decodes with protobuf-es (groups stay groups).
    expect(equals(G, fromBinary(G, encodeCanonical(G, b)), b)).toBe(true);
  });
});
