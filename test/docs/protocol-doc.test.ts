import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MQTT_BEHAVIOUR } from '../../ingest/mqtt/mqtt-codes.js';
import { DEFAULT_LIMITS, DeviceKeys, ERROR_POLICIES, JwksRegistry, verifyMessage } from '../../src/index.js';

const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');

describe('docs/PROTOCOL.md', () => {
  it('holds exactly the error table of src/errors.ts, with the MQTT behaviour of ingest/mqtt/mqtt-codes.ts', () => {
    const table = doc.slice(doc.indexOf('<!-- error-table:start -->'), doc.indexOf('<!-- error-table:end -->'));
    const rows = table
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|').map((cell) => cell.trim()));
    const documented = rows.map(([, code, status, mqtt, retry, summary]) => ({ code, status, mqtt, retry, summary }));
    const expected = Object.entries(ERROR_POLICIES).map(([code, p]) => ({
      code: `\`${code}\``,
      status: String(p.status),
      mqtt: Object.hasOwn(MQTT_BEHAVIOUR, code) ? MQTT_BEHAVIOUR[code as keyof typeof MQTT_BEHAVIOUR] : '—',
      retry: p.retryable ? 'yes' : 'no',
      summary: p.summary,
    }));
    expect(documented).toEqual(expected);
  });

  it('shows an example message that verifies with the public key shown beside it', async () => {
    const section = doc.slice(doc.indexOf('## 3. Signing'), doc.indexOf('## 4.'));
    const [message, jwk] = [...section.matchAll(/```(?:json)?\n(.+?)\n```/gs)].map((m) => (m[1] ?? '').trim());
    const registry = JwksRegistry.fromDocument({ keys: [JSON.parse(jwk ?? '')] });
    const verified = await verifyMessage(message ?? '', {
      keys: new DeviceKeys({ registry: () => registry }),
      limits: DEFAULT_LIMITS,
      now: () => 1795867200000,
    });
    expect(verified).toMatchObject({ device: 'sensor-es256', seq: 1 });
  });
});
