/**
 * The protocol's generated schemas and types (protoc-gen-es), for applications
 * that build or inspect frames directly and for the odds reference workload.
 *
 * @module
 */
export * from "./gen/deltaframe/v1/frames_pb.js";
export * from "./gen/deltaframe/v1/patch_pb.js";
