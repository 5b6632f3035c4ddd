import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeDevice } from '../support/devices.js';
import { pollUntil } from '../support/poll-until.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';

let dir: string | undefined;
let served: ServeProcess | undefined;

afterEach(async () => {
  await served?.stop('SIGKILL');
  served = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** The JSON log lines of stdout; fails on any line that is not JSON. */
function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('telemetry serve output', { timeout: 120_000 }, () => {
  it('keeps stdout to JSON log lines and says on stderr where it listens, as bound, and when it drains', async () => {
    dir = await mkdtemp(join(tmpdir(), 'serve-output-'));
    served = await startServe({
      cwd: dir,
      env: { TELEMETRY_HTTP_HOST: '0.0.0.0', TELEMETRY_MQTT_HOST: '0.0.0.0', TELEMETRY_MQTT_PORT: '0' },
      timeoutMs: 90_000,
    });
    const node = served;
    expect(node.stderr()).toMatch(/ingest node listening on http:\/\/0\.0\.0\.0:\d+ \(mqtt: mqtt:\/\/0\.0\.0\.0:\d+/);
    const port = /0\.0\.0\.0:(\d+)/.exec(node.httpUrl)?.[1];
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(await node.stop('SIGTERM')).toBe(0);
    expect(node.stderr()).toContain('telemetry: SIGTERM received, draining');
    const logged = jsonLines(node.stdout());
    expect(logged.find((line) => line.msg === 'ingest node listening')).toMatchObject({
      http: `http://0.0.0.0:${port}`,
      mqtt: expect.stringMatching(/^mqtt:\/\/0\.0\.0\.0:\d+$/),
    });
  });

  it('logs a key source that stops loading once, keeps its keys, and logs when it loads again', async () => {
    dir = await mkdtemp(join(tmpdir(), 'serve-output-'));
    const registry = join(dir, 'registry.json');
    const device = await makeDevice('refresh-dev');
    const good = JSON.stringify({ keys: [device.publicJwk] });
    await writeFile(registry, good);
    served = await startServe({
      cwd: dir,
      env: { TELEMETRY_KEY_REGISTRY: registry, TELEMETRY_MQTT: 'off' },
      timeoutMs: 90_000,
    });
    const node = served;
    const lines = () => jsonLines(node.stdout());
    const logged = (msg: string) => lines().filter((line) => line.msg === msg);
    await writeFile(registry, `${good.slice(0, -2)}`);
    await pollUntil(async () => logged('key source refresh failed; keeping the previous keys').length > 0, 'a failure');
    expect(logged('key source refresh failed; keeping the previous keys')[0]).toMatchObject({
      level: 40,
      setting: 'TELEMETRY_KEY_REGISTRY (--key-registry)',
      location: registry,
      error: 'not valid JSON',
    });
    await writeFile(registry, good);
    await pollUntil(async () => logged('key source refreshed again').length > 0, 'a recovery');
    expect(logged('key source refresh failed; keeping the previous keys')).toHaveLength(1);
    expect(node.output()).not.toContain(String(device.publicJwk.x));
  });
});
