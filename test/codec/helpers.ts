/** Shared assertions for the codec tests. */
import { DeltaframeError, ERROR_CODES, type ErrorCode, isDeltaframeError } from "deltaframe";
import { expect } from "vitest";

/** Returns the error `fn` throws; fails when it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.fail("expected an error, got a return");
}

/** Asserts that `fn` throws a DeltaframeError with `code` and that code's close code. */
export function expectCode(fn: () => unknown, code: ErrorCode): DeltaframeError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(DeltaframeError);
  expect(
    isDeltaframeError(error, code),
    `expected ${code}, got ${String((error as { code?: string }).code)}: ${String(error)}`,
  ).toBe(true);
  const e = error as DeltaframeError;
  expect(e.code).toBe(code);
  expect(e.closeCode).toBe(ERROR_CODES[code].closeCode);
  return e;
}

/** Bytes from hex. */
export function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
}

/** Hex from bytes. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
