/**
 * One error hierarchy for the whole toolkit.
 *
 * Every error deltaframe throws is a {@link DeltaframeError} with a machine
 * `code` (`DF_ERR_…`, one condition per code) and the WebSocket close code the
 * session sends when the condition comes from the peer. `docs/errors.md`
 * lists every code; `test/errors.test.ts` checks the two agree.
 *
 * Errors are either *remote* (the peer sent something wrong: the session moves
 * to a sticky errored state and queues a close with `closeCode`) or *local*
 * (the caller misused the API: thrown, state unchanged; `closeCode` is 1011
 * and is never sent on the peer's account).
 *
 * @module
 */

/** Where an error comes from: the peer's bytes, or the caller's use of the API. */
export type ErrorOrigin = "remote" | "local";

interface CodeInfo {
  readonly closeCode: number;
  readonly origin: ErrorOrigin;
}

/**
 * Every error code with its close code. Close codes: 1002 protocol error,
 * 1007 invalid payload, 1008 policy violation, 1009 message too big, 1011
 * internal or local misuse, 4000–4999 deltaframe-specific (docs/errors.md).
 */
export const ERROR_CODES = {
  // codec: transport messages and frames
  DF_ERR_MESSAGE_EMPTY: { closeCode: 1002, origin: "remote" },
  DF_ERR_MESSAGE_TOO_LARGE: { closeCode: 1009, origin: "remote" },
  DF_ERR_MARKER_UNKNOWN: { closeCode: 1002, origin: "remote" },
  DF_ERR_DECODE: { closeCode: 1007, origin: "remote" },
  DF_ERR_DEPTH: { closeCode: 1007, origin: "remote" },
  DF_ERR_FRAME_EMPTY: { closeCode: 1002, origin: "remote" },
  DF_ERR_FRAME_INVALID: { closeCode: 1002, origin: "remote" },
  DF_ERR_TOO_MANY_FRAMES: { closeCode: 1009, origin: "remote" },
  DF_ERR_STRING_TOO_LONG: { closeCode: 1009, origin: "remote" },
  DF_ERR_BYTES_TOO_LONG: { closeCode: 1009, origin: "remote" },
  DF_ERR_LIST_TOO_LONG: { closeCode: 1009, origin: "remote" },
  // codec: compression
  DF_ERR_INFLATE_TOO_LARGE: { closeCode: 1009, origin: "remote" },
  DF_ERR_INFLATE_LENGTH_MISMATCH: { closeCode: 1007, origin: "remote" },
  DF_ERR_INFLATE_CORRUPT: { closeCode: 1007, origin: "remote" },
  DF_ERR_DICTIONARY_UNKNOWN: { closeCode: 1002, origin: "remote" },
  DF_ERR_COMPRESSION_NOT_NEGOTIATED: { closeCode: 1002, origin: "remote" },
  // delta: patches and replicas
  DF_ERR_PATCH_MALFORMED: { closeCode: 1007, origin: "remote" },
  DF_ERR_PATCH_FIELD_UNKNOWN: { closeCode: 1007, origin: "remote" },
  DF_ERR_PATCH_OP_INVALID: { closeCode: 1007, origin: "remote" },
  DF_ERR_PATCH_INDEX_RANGE: { closeCode: 1007, origin: "remote" },
  DF_ERR_PATCH_MAP_KEY_MISSING: { closeCode: 1007, origin: "remote" },
  DF_ERR_PATCH_TOO_MANY_OPS: { closeCode: 1009, origin: "remote" },
  DF_ERR_PATCH_BASE_MISSING: { closeCode: 4004, origin: "remote" },
  DF_ERR_HASH_MISMATCH: { closeCode: 4005, origin: "remote" },
  // session: handshake and lifecycle
  DF_ERR_PROTOCOL: { closeCode: 1002, origin: "remote" },
  DF_ERR_VERSION_UNSUPPORTED: { closeCode: 4002, origin: "remote" },
  DF_ERR_AUTH_TIMEOUT: { closeCode: 4001, origin: "remote" },
  DF_ERR_AUTH_REJECTED: { closeCode: 4003, origin: "remote" },
  DF_ERR_IDLE_TIMEOUT: { closeCode: 4008, origin: "remote" },
  // session: flow control
  DF_ERR_ACK_UNSENT: { closeCode: 1002, origin: "remote" },
  DF_ERR_CREDIT_EXCEEDED: { closeCode: 1002, origin: "remote" },
  DF_ERR_SEQUENCE: { closeCode: 1002, origin: "remote" },
  DF_ERR_ALIAS_UNKNOWN: { closeCode: 1002, origin: "remote" },
  DF_ERR_SLOW_CONSUMER: { closeCode: 4009, origin: "remote" },
  DF_ERR_RATE_LIMITED: { closeCode: 4010, origin: "remote" },
  DF_ERR_KEY_UNKNOWN: { closeCode: 1002, origin: "remote" },
  DF_ERR_STREAM_UNKNOWN: { closeCode: 4015, origin: "remote" },
  // session: resume
  DF_ERR_RESUME_TOKEN_INVALID: { closeCode: 4011, origin: "remote" },
  DF_ERR_RESUME_TOKEN_REUSED: { closeCode: 4012, origin: "remote" },
  DF_ERR_RESUME_TOKEN_EXPIRED: { closeCode: 4013, origin: "remote" },
  DF_ERR_RESUME_POSITION: { closeCode: 4014, origin: "remote" },
  // local misuse
  DF_ERR_INVALID_ARGUMENT: { closeCode: 1011, origin: "local" },
  DF_ERR_INVALID_STATE: { closeCode: 1011, origin: "local" },
  DF_ERR_LIMIT_INVALID: { closeCode: 1011, origin: "local" },
} as const satisfies Record<string, CodeInfo>;

/** A machine-readable error code, `DF_ERR_…`. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The error deltaframe throws. `code` names the condition; `closeCode` is the
 * WebSocket close code to send; `details` holds the data (sizes, limits,
 * field numbers) so callers never parse the message.
 */
export class DeltaframeError extends Error {
  override readonly name = "DeltaframeError";
  /** The condition, one per code. */
  readonly code: ErrorCode;
  /** The close code to send when this error ends a connection. */
  readonly closeCode: number;
  /** Whether the peer or the caller caused it. */
  readonly origin: ErrorOrigin;
  /** Data about the condition (limit, actual size, field number…). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.closeCode = ERROR_CODES[code].closeCode;
    this.origin = ERROR_CODES[code].origin;
    this.details = details;
  }
}

/**
 * Returns true when `value` is a deltaframe error (optionally with the given
 * code). Checks `name` and `code`, not `instanceof`, so it works across
 * duplicated package copies and realms.
 */
export function isDeltaframeError(value: unknown, code?: ErrorCode): value is DeltaframeError {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  if (v.name !== "DeltaframeError" || typeof v.code !== "string" || !(v.code in ERROR_CODES)) return false;
  return code === undefined || v.code === code;
}
