/**
 * deltaframe: a WebSocket protocol and TypeScript toolkit for realtime
 * keyed-state feeds. This entry re-exports the layers that run anywhere (codec,
 * delta, session, workload); each also has its own subpath. The hub
 * (`deltaframe/hub`) and the transport adapters (`deltaframe/adapters/ws`,
 * `deltaframe/adapters/websocket`) are imported by subpath only, so that this
 * entry loads in browsers and without the optional `ws` peer.
 *
 * @module
 */
export * from "./codec/index.js";
// Both the delta and session layers name a type KeyChange: the root entry
// gives delta's; the session's is also exported as SourceChange.
export type { KeyChange } from "./delta/index.js";
export * from "./delta/index.js";
export * from "./errors.js";
export * from "./limits.js";
export type { KeyChange as SourceChange } from "./session/index.js";
export * from "./session/index.js";
export * from "./workload/index.js";
