import { expect } from 'vitest';
import { TelemetryError } from '../../src/errors.js';

/** Awaits `promise`, expecting a TelemetryError with `code`, and returns it. */
export async function rejection(promise: Promise<unknown>, code: string): Promise<TelemetryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TelemetryError);
  expect((error as TelemetryError).code).toBe(code);
  return error as TelemetryError;
}
