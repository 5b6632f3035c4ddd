import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { describeQueryContract } from './store-contract-queries.js';
import { describeWriteContract, type StoreCapabilities } from './store-contract-writes.js';

export type { StoreCapabilities } from './store-contract-writes.js';

/** An adapter under test, opened once for the whole suite and closed by it. */
export interface StoreUnderTest {
  readonly store: TelemetryStore;
  /**
   * Drops every stored reading; called before each test when given. Every test
   * also uses device ids of its own, so a shared server needs no wiping.
   */
  readonly reset?: () => Promise<void>;
}

/** The full contract: float64 values kept exactly, and the last value written for a key kept. */
const FULL_CAPABILITIES: StoreCapabilities = {
  significantDigits: 'exact',
  conflictingValues: 'last-write-wins',
};

/**
 * Registers the behaviour every {@link TelemetryStore} adapter must show, as one `describe` block, relaxed only
 * where `capabilities` say the store's server keeps less: the writes part (store-contract-writes.ts) and the
 * queries part (store-contract-queries.ts), on one store opened for both.
 */
export function describeStoreContract(
  name: string,
  open: () => Promise<StoreUnderTest>,
  capabilities: StoreCapabilities = FULL_CAPABILITIES,
): void {
  describe(name, () => {
    let subject: StoreUnderTest;
    let store: TelemetryStore;

    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    });
    beforeEach(async () => {
      await subject.reset?.();
    });
    afterAll(async () => {
      await store?.close();
    });

    // The parts' own beforeAll hooks run after the one above, so they see the opened store.
    describeWriteContract(() => store, capabilities);
    describeQueryContract(() => store);
  });
}
