import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll-until.js';
import { metricsOf, type ServeProcess, startServe } from '../support/serve-process.js';

const FAILURES = 'telemetry_key_source_refresh_failures_total';

describe('key source refresh failures on /metrics', () => {
  let dir: string | undefined;
  let node: ServeProcess | undefined;

  afterEach(async () => {
    await node?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('counts a registry file that turned invalid, while the node keeps running on the previous keys', async () => {
    dir = await mkdtemp(join(tmpdir(), 'key-refresh-metrics-'));
    const registry = join(dir, 'registry.jwks.json');
    await writeFile(registry, '{"keys":[]}\n');
    node = await startServe({ cwd: dir, env: { TELEMETRY_MQTT: 'off', TELEMETRY_KEY_REGISTRY: registry } });
    const url = node.httpUrl;
    expect((await metricsOf(url))(FAILURES)).toBe(0);

    await writeFile(registry, '{"keys": [');
    await pollUntil(async () => (await metricsOf(url))(FAILURES) >= 1, 'a counted refresh failure');
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });
});
