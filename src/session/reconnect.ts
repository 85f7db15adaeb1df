/**
 * When to reconnect after a connection ends: full-jitter exponential backoff
 * (docs/protocol.md §12), honouring the server's hint (`retry_after_ms` +
 * uniform jitter in `[0, jitter_ms)`) and close codes that say "come back
 * later" (1012, 1013) or "not like this" (4002, 4003; 4011–4014 drop the token;
 * 4014 also drops the declared positions).
 *
 * @module
 */
import { DeltaframeError } from "../errors.js";
import type { ResumeState } from "./client.js";

/** Options of {@link ReconnectPolicy}. */
export interface ReconnectPolicyOptions {
  /** Returns a uniform random number in [0, 1). Required (injected, so the policy is deterministic in tests). */
  random: () => number;
  /** Backoff base, in ms. Default 250. */
  baseMs: number;
  /** Backoff cap, in ms. Default 30,000. */
  maxMs: number;
  /** Give up after this many consecutive attempts. Default Infinity. */
  maxAttempts: number;
}

/** How a connection ended, as far as reconnecting is concerned. */
export interface CloseInfo {
  /** Close code (0 or 1006 when the transport dropped without a Close). */
  code: number;
  /** The server's retry-after hint, in ms (0: none). */
  retryAfterMs: number;
  /** The server's jitter window, in ms. */
  jitterMs: number;
}

/** The decision: wait `delayMs`, then reconnect, with or without the resume token. */
export interface ReconnectDecision {
  /** Delay before the next attempt, in ms. */
  delayMs: number;
  /** Whether the next hello may carry the resume token. */
  resume: boolean;
}

/** Close codes after which reconnecting with the same hello is pointless. */
export const TERMINAL_CLOSE_CODES: readonly number[] = [4002, 4003];
/** Close codes after which the resume token must not be presented again. */
export const DROP_TOKEN_CLOSE_CODES: readonly number[] = [4011, 4012, 4013, 4014];

/** Close codes after which the declared positions must be dropped too: the server refused them (4014). */
export const DROP_POSITION_CLOSE_CODES: readonly number[] = [4014];

/**
 * Decides reconnect delays. Call {@link next} after each connection ends and
 * {@link reset} once a connection was welcomed.
 */
export class ReconnectPolicy {
  private readonly opts: ReconnectPolicyOptions;
  private attempt = 0;

  /** Throws DF_ERR_INVALID_ARGUMENT for a missing `random` or bad bounds. */
  constructor(options: Partial<ReconnectPolicyOptions> & Pick<ReconnectPolicyOptions, "random">) {
    const opts: ReconnectPolicyOptions = {
      random: options.random,
      baseMs: options.baseMs ?? 250,
      maxMs: options.maxMs ?? 30_000,
      maxAttempts: options.maxAttempts ?? Number.POSITIVE_INFINITY,
    };
    if (typeof opts.random !== "function") {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        "cannot create reconnect policy: random is required",
      );
    }
    const okMs = (v: number) => Number.isFinite(v) && v > 0;
    if (!okMs(opts.baseMs) || !okMs(opts.maxMs) || opts.maxMs < opts.baseMs) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        "cannot create reconnect policy: need 0 < baseMs ≤ maxMs",
        {
          baseMs: opts.baseMs,
          maxMs: opts.maxMs,
        },
      );
    }
    if (
      !(
        opts.maxAttempts === Number.POSITIVE_INFINITY ||
        (Number.isSafeInteger(opts.maxAttempts) && opts.maxAttempts > 0)
      )
    ) {
      throw new DeltaframeError(
        "DF_ERR_INVALID_ARGUMENT",
        "cannot create reconnect policy: maxAttempts must be positive",
        {
          maxAttempts: opts.maxAttempts,
        },
      );
    }
    this.opts = opts;
  }

  /** Consecutive attempts so far. */
  get attempts(): number {
    return this.attempt;
  }

  /** Forgets the backoff after a successful connection. */
  reset(): void {
    this.attempt = 0;
  }

  /**
   * Returns when and how to reconnect after a connection ended with `close`,
   * or undefined to give up (terminal code or attempts exhausted).
   */
  next(close: CloseInfo): ReconnectDecision | undefined {
    if (TERMINAL_CLOSE_CODES.includes(close.code)) return undefined;
    if (this.attempt >= this.opts.maxAttempts) return undefined;
    const resume = !DROP_TOKEN_CLOSE_CODES.includes(close.code);
    const r = Math.min(Math.max(this.opts.random(), 0), 1 - Number.EPSILON);
    // Full jitter: uniform in [0, min(cap, base · 2^attempt)).
    const ceiling = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(this.attempt, 52));
    let delayMs = r * ceiling;
    if (close.retryAfterMs > 0 || close.jitterMs > 0) {
      // The server's hint wins: retry-after plus uniform jitter in [0, jitter).
      delayMs = close.retryAfterMs + r * close.jitterMs;
    } else if (close.code === 1013) {
      // Try again later: at least the base, then the backoff.
      delayMs = Math.max(delayMs, this.opts.baseMs);
    } else if (close.code === 1012 && this.attempt === 0) {
      // Service restart: come back soon, spread over one base interval.
      delayMs = r * this.opts.baseMs;
    }
    this.attempt++;
    return { delayMs, resume };
  }
}

/**
 * Returns what the next connection should resume after a connection ended
 * with `close`, under `decision`: `state` without its token when the token
 * must be dropped, and with every declared position cleared (a fresh
 * snapshot) when the server refused the positions.
 */
export function resumeStateFor(
  state: ResumeState,
  close: CloseInfo,
  decision: ReconnectDecision,
): ResumeState {
  const keepPositions = !DROP_POSITION_CLOSE_CODES.includes(close.code);
  if (decision.resume && keepPositions) return state;
  return {
    token: decision.resume ? state.token : undefined,
    subscriptions: keepPositions
      ? state.subscriptions
      : state.subscriptions.map((s) => ({ ...s, epoch: 0n, offset: 0n, held: [] })),
  };
}
