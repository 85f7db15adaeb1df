/**
 * Frame codec speed (DESIGN §7: encode / decode of a small update frame at
 * ≥ 2× the speed of protobufjs, bytes identical to protobuf-es). Each group
 * encodes or decodes the same message with deltaframe, protobuf-es,
 * protobufjs static code and JSON (of the protobuf-es JSON form).
 */
import { fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { decodeFrame, encodeFrame } from "deltaframe/codec";
import { FrameSchema } from "deltaframe/proto";
import { bench, describe } from "vitest";
import { codecSamples, snapshotFrame, updateFrame } from "./support/frames.js";
import { opts, sink } from "./support/options.js";
import { loadProtobufjs } from "./support/protobufjs.js";

const pb = await loadProtobufjs();
const { Frame: PbjsFrame, Updates: PbjsUpdates, SnapshotChunk: PbjsSnapshotChunk } = pb.deltaframe.v1;
const samples = codecSamples();

const cases = {
  update: {
    es: updateFrame(samples.update),
    pbjs: PbjsFrame.create({ updates: PbjsUpdates.create({ ...samples.update }) }),
  },
  snapshot: {
    es: snapshotFrame(samples.snapshot),
    pbjs: PbjsFrame.create({ snapshotChunk: PbjsSnapshotChunk.create({ ...samples.snapshot }) }),
  },
};

for (const [name, c] of Object.entries(cases)) {
  const bytes = toBinary(FrameSchema, c.es);
  const pbjsBytes = PbjsFrame.encode(c.pbjs).finish();
  // Every library must encode the very same message, or the comparison is void.
  if (Buffer.compare(Buffer.from(bytes), Buffer.from(pbjsBytes)) !== 0) {
    throw new Error(`bench input ${name}: protobufjs bytes differ from protobuf-es`);
  }
  const json = toJson(FrameSchema, c.es);
  const text = JSON.stringify(json);

  describe(`${name}-encode`, () => {
    bench(
      `${name}-encode/deltaframe`,
      () => {
        sink.value = encodeFrame(c.es);
      },
      opts(),
    );
    bench(
      `${name}-encode/protobuf-es`,
      () => {
        sink.value = toBinary(FrameSchema, c.es);
      },
      opts(),
    );
    bench(
      `${name}-encode/protobufjs`,
      () => {
        sink.value = PbjsFrame.encode(c.pbjs).finish();
      },
      opts(),
    );
    bench(
      `${name}-encode/json`,
      () => {
        sink.value = JSON.stringify(json);
      },
      opts(),
    );
  });

  describe(`${name}-decode`, () => {
    bench(
      `${name}-decode/deltaframe`,
      () => {
        sink.value = decodeFrame(bytes);
      },
      opts(),
    );
    bench(
      `${name}-decode/protobuf-es`,
      () => {
        sink.value = fromBinary(FrameSchema, bytes);
      },
      opts(),
    );
    bench(
      `${name}-decode/protobufjs`,
      () => {
        sink.value = PbjsFrame.decode(bytes);
      },
      opts(),
    );
    bench(
      `${name}-decode/json`,
      () => {
        sink.value = JSON.parse(text);
      },
      opts(),
    );
  });
}
