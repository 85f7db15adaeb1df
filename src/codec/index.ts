/**
 * The codec layer: frames and transport messages to and from bytes, bounded
 * decoding, and per-message compression (docs/wire-format.md, DESIGN §3).
 *
 * @module
 */
export {
  type BatchDictionary,
  type DecodeBatchOptions,
  decodeBatch,
  type EncodeBatchOptions,
  encodeBatch,
  encodeBatchEntry,
  encodeBatchFromEncodedFrames,
  frameBatch,
  frameSingle,
  MARKER_DEFLATE,
  MARKER_DICTIONARY,
  MARKER_PLAIN,
  MARKER_SINGLE,
  unframeBatch,
} from "./batch.js";
export { defaultDeflater } from "./deflate-default.js";
export { createFflateDeflater, type FflateDeflaterOptions, MAX_DEFLATE_EXPANSION } from "./deflate-fflate.js";
export { createZlibDeflater, type ZlibDeflaterOptions } from "./deflate-zlib.js";
export {
  type Deflater,
  MAX_DICTIONARY_BYTES,
  MIN_COMPRESSED_HEADER_BYTES,
  maxReadableMessageBytes,
} from "./deflater.js";
export { dictionaryId, type TrainDictionaryOptions, trainDictionary } from "./dictionary.js";
export { type DecodeOptions, decodeFrame, encodeFrame } from "./frame.js";
export { expandShapedFrame, packUpdates, unpackUpdates } from "./updates-shape.js";
export { DICTIONARY_ID_BYTES, validateFrame, validateFrameReference } from "./validate.js";
