/**
 * The protobufjs baseline: static code generated with `pbjs` from the same
 * .proto files as src/gen, at bench time, into bench/.generated (not
 * committed). Generated when missing, so that `vitest bench` works from a
 * fresh checkout.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
/** Where the generated module is written. */
export const PROTOBUFJS_OUT = `${root}bench/.generated/protos.js`;

/** The protobufjs static API, as far as the benches use it. */
export interface PbjsType<T = Record<string, unknown>> {
  create(properties?: Record<string, unknown>): T;
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/** The generated namespaces the benches use. */
export interface PbjsRoot {
  deltaframe: {
    v1: { Frame: PbjsType; Batch: PbjsType; Updates: PbjsType; SnapshotChunk: PbjsType };
    odds: { v1: { Market: PbjsType; Selection: PbjsType } };
  };
}

/** Generates bench/.generated/protos.js with pbjs when it does not exist yet. */
export function ensureProtobufjs(): string {
  if (existsSync(PROTOBUFJS_OUT)) return PROTOBUFJS_OUT;
  mkdirSync(`${root}bench/.generated`, { recursive: true });
  execFileSync(
    `${root}node_modules/.bin/pbjs`,
    [
      "-t",
      "static-module",
      "-w",
      "es6",
      "--no-verify",
      "--no-delimited",
      "--no-convert",
      "--no-service",
      "-o",
      PROTOBUFJS_OUT,
      "proto/deltaframe/v1/frames.proto",
      "proto/deltaframe/odds/v1/odds.proto",
    ],
    { cwd: root, stdio: "inherit" },
  );
  return PROTOBUFJS_OUT;
}

/** Returns the protobufjs static code, generating it first when missing. */
export async function loadProtobufjs(): Promise<PbjsRoot> {
  const path = ensureProtobufjs();
  return (await import(pathToFileURL(path).href)) as PbjsRoot;
}
