import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FAULT_KINDS,
  type FleetKeySource,
  parseFaultPlan,
  QueryApiSource,
  startRun,
  verifyRun,
} from '../../simulator/index.js';
import { auditStore, type FleetNode, provisionAndStart, testRunOptions } from './fleet-node.js';

let dir: string | undefined;
let fleetNode: FleetNode | undefined;

afterEach(async () => {
  await fleetNode?.close();
  fleetNode = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function setUp(keySource: FleetKeySource, devices: number) {
  const started = await provisionAndStart({ name: 'faults', keySource, devices });
  dir = started.dir;
  fleetNode = started.node;
  return started;
}

/** Two of each applicable kind: counts put them at the first opportunities, so each is sure to happen. */
const EVERY_FAULT = 'bad-signature=2,other-key=2,replay=2,malformed=2,oversized=2,seconds=2,expired-credential=2';

describe('faults injected on purpose into a run against a real node', () => {
  it.each([
    ['http', 'registry'],
    ['http', 'credentials'],
    ['mqtt', 'registry'],
    ['mqtt', 'credentials'],
  ] as const)(
    'over %s with keys from %s: each fault gets its code, none is stored, every acknowledged reading is stored once',
    async (transport, keySource) => {
      const { dir, node } = await setUp(keySource, 4);
      const issuerKey =
        keySource === 'credentials'
          ? (JSON.parse(readFileSync(join(dir, 'issuer.key.json'), 'utf8')) as JWK)
          : undefined;
      const options = await testRunOptions(dir, {
        transport,
        url: transport === 'http' ? node.httpUrl : node.mqttUrl,
        faults: parseFaultPlan(EVERY_FAULT),
        ...(issuerKey === undefined ? {} : { issuerKey }),
      });
      const report = await startRun(options).done;
      expect(report.problems).toEqual([]);
      const { totals } = report;
      expect(totals.messagesSent).toBe(
        totals.messagesAcknowledged +
          totals.messagesRejected +
          totals.messagesUnconfirmed +
          totals.messagesPendingAtEnd,
      );
      expect(totals.readingsAcknowledged).toBe(totals.readingsSampled);
      for (const [kind, expected] of FAULT_KINDS) {
        const tally = report.faults?.[kind];
        const applicable = kind !== 'expired-credential' || keySource === 'credentials';
        expect(tally?.injected, kind).toBe(applicable ? 2 : 0);
        expect(tally?.expected).toBe(expected);
        expect(tally?.unexpected, kind).toEqual({});
        expect(tally?.unanswered, kind).toBe(0);
        if (expected === 'ACCEPTED') expect(tally?.acceptedAsExpected).toBe(tally?.injected);
        else expect(tally?.rejectedAsExpected).toBe(tally?.injected);
      }
      const verification = await verifyRun(report, {
        source: new QueryApiSource(node.httpUrl, node.operatorToken),
        sourceKind: 'query-api',
      });
      expect(verification.problems).toEqual([]);
      expect(verification.ok).toBe(true);
      expect(verification.faultProbesStored).toBe(0);
      expect(verification.acknowledged.storedOnce).toBe(verification.acknowledged.expected);
      expect(verification.acknowledged.expected).toBe((await auditStore(node.store, report)).checked);
    },
  );
});
