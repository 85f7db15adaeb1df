/**
 * deltaframe: a WebSocket protocol and TypeScript toolkit for realtime
 * keyed-state feeds. This entry re-exports every layer; each layer also has
 * its own subpath (`deltaframe/codec`, `deltaframe/delta`, `deltaframe/session`).
 *
 * @module
 */

export * from "./codec/index.js";
export * from "./delta/index.js";
export * from "./errors.js";
export * from "./limits.js";
export * from "./session/index.js";
export * from "./workload/index.js";
