/**
 * The lifecycle of both session kinds as explicit transition tables.
 *
 * A transition is `(from, on) → to`. Application commands that have no row for
 * the current state throw `DF_ERR_INVALID_STATE` and change nothing. Remote
 * violations and expired deadlines take the "violation"/"timeout" rows into
 * the sticky `errored` state; `closed` and `errored` have no way out, and a
 * session in either emits nothing more on the wire. docs/sessions.md draws
 * these tables as mermaid diagrams (a test checks they agree).
 *
 * @module
 */
import { DeltaframeError } from "../errors.js";

/** States of a {@link ServerSession}. */
export type ServerState = "awaiting-hello" | "authenticating" | "open" | "draining" | "closed" | "errored";

/** What moves a server session: frames, application commands, deadlines. */
export type ServerTrigger =
  | "hello"
  | "accept"
  | "reject"
  | "drain"
  | "close"
  | "peer-close"
  | "violation"
  | "timeout";

/** States of a {@link ClientSession}. */
export type ClientState = "idle" | "hello-sent" | "open" | "draining" | "closed" | "errored";

/** What moves a client session. */
export type ClientTrigger =
  | "connect"
  | "welcome"
  | "drain"
  | "close"
  | "peer-close"
  | "violation"
  | "timeout";

/** One row of a transition table. */
export interface Transition<S extends string, T extends string> {
  /** State before. */
  readonly from: S;
  /** Trigger. */
  readonly on: T;
  /** State after. */
  readonly to: S;
}

/** The server lifecycle: every allowed `(from, on) → to`. */
export const SERVER_TRANSITIONS: ReadonlyArray<Transition<ServerState, ServerTrigger>> = Object.freeze([
  { from: "awaiting-hello", on: "hello", to: "authenticating" },
  { from: "awaiting-hello", on: "close", to: "closed" },
  { from: "awaiting-hello", on: "peer-close", to: "closed" },
  { from: "awaiting-hello", on: "violation", to: "errored" },
  { from: "awaiting-hello", on: "timeout", to: "errored" },
  { from: "authenticating", on: "accept", to: "open" },
  { from: "authenticating", on: "reject", to: "closed" },
  { from: "authenticating", on: "close", to: "closed" },
  { from: "authenticating", on: "peer-close", to: "closed" },
  { from: "authenticating", on: "violation", to: "errored" },
  { from: "authenticating", on: "timeout", to: "errored" },
  { from: "open", on: "drain", to: "draining" },
  { from: "open", on: "close", to: "closed" },
  { from: "open", on: "peer-close", to: "closed" },
  { from: "open", on: "violation", to: "errored" },
  { from: "open", on: "timeout", to: "errored" },
  { from: "draining", on: "close", to: "closed" },
  { from: "draining", on: "peer-close", to: "closed" },
  { from: "draining", on: "violation", to: "errored" },
  { from: "draining", on: "timeout", to: "errored" },
] as const);

/** The client lifecycle: every allowed `(from, on) → to`. */
export const CLIENT_TRANSITIONS: ReadonlyArray<Transition<ClientState, ClientTrigger>> = Object.freeze([
  { from: "idle", on: "connect", to: "hello-sent" },
  { from: "idle", on: "close", to: "closed" },
  { from: "hello-sent", on: "welcome", to: "open" },
  { from: "hello-sent", on: "close", to: "closed" },
  { from: "hello-sent", on: "peer-close", to: "closed" },
  { from: "hello-sent", on: "violation", to: "errored" },
  { from: "hello-sent", on: "timeout", to: "errored" },
  { from: "open", on: "drain", to: "draining" },
  { from: "open", on: "close", to: "closed" },
  { from: "open", on: "peer-close", to: "closed" },
  { from: "open", on: "violation", to: "errored" },
  { from: "open", on: "timeout", to: "errored" },
  { from: "draining", on: "close", to: "closed" },
  { from: "draining", on: "peer-close", to: "closed" },
  { from: "draining", on: "violation", to: "errored" },
  { from: "draining", on: "timeout", to: "errored" },
] as const);

/**
 * Returns the state after `on` in `from`, or undefined when the table has no
 * such row.
 */
export function nextState<S extends string, T extends string>(
  table: ReadonlyArray<Transition<S, T>>,
  from: S,
  on: T,
): S | undefined {
  for (const row of table) if (row.from === from && row.on === on) return row.to;
  return undefined;
}

/** Like {@link nextState}, but throws `DF_ERR_INVALID_STATE` (local) when there is no row. */
export function requireTransition<S extends string, T extends string>(
  table: ReadonlyArray<Transition<S, T>>,
  from: S,
  on: T,
  operation: string,
): S {
  const to = nextState(table, from, on);
  if (to === undefined) {
    throw new DeltaframeError("DF_ERR_INVALID_STATE", `cannot ${operation}: session is ${from}`, {
      state: from,
      trigger: on,
    });
  }
  return to;
}
