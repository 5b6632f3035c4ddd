/**
 * Shared setup of the verifyMessage suites (verify-message-*.test.ts): three registered devices, the verifier's
 * dependencies, and helpers to build and reject messages. A suite calls {@link useDevices} once to register the
 * hook; the `let` exports are live bindings that hook assigns.
 */
import { beforeAll } from 'vitest';
import {
  DEFAULT_LIMITS,
  DeviceKeys,
  type ErrorCode,
  TelemetryError,
  type VerifyMessageDeps,
  verifyMessage,
} from '../../src/index.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';

export const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
export const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export let alice: TestDevice;
export let bob: TestDevice;
export let edna: TestDevice;
export let deps: VerifyMessageDeps;

export async function rejection(input: string, context = {}, using = deps): Promise<ErrorCode> {
  const error = await verifyMessage(input, using, context).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TelemetryError)) throw new Error(`expected a TelemetryError, got ${String(error)}`);
  return error.code;
}

export const reading = (values: Record<string, number> = { temperature: 21.5 }, ts = NOW - 1000) => ({ ts, values });

/** Registers the hook that makes the devices and the verifier's dependencies before the suite's tests. */
export function useDevices(): void {
  beforeAll(async () => {
    alice = await makeDevice('alice', 'ES256');
    bob = await makeDevice('bob', 'ES256');
    edna = await makeDevice('edna', 'EdDSA');
    deps = {
      keys: new DeviceKeys({ registry: () => registryOf(alice, bob, edna) }),
      limits: DEFAULT_LIMITS,
      now: () => NOW,
    };
  });
}
