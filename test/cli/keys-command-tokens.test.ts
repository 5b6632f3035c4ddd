import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CredentialKeySource,
  DEFAULT_TOKEN_AUDIENCE,
  DeviceKeys,
  verifyConnectionToken,
  verifyOperatorToken,
} from '../../src/index.js';
import {
  cli,
  dir,
  errorCode,
  issuerSet,
  ok,
  readJson,
  registryKeys,
  useKeysDir,
  verifyWith,
} from './keys-command-support.js';

useKeysDir();

describe('telemetry keys issuer create and credential', () => {
  it('issues a credential that verifies with the issuer JWKS written by issuer create', async () => {
    await ok('issuer', 'create', '--out', 'fleet.key.json', '--jwks', 'issuers.json', '--alg', 'EdDSA');
    await ok('generate', '--device', 'alice');
    const credential = (await ok('credential', '--issuer', 'fleet.key.json', '--key', 'keys/alice.key.json')).trim();
    const source = new CredentialKeySource({ issuers: () => issuers, clockSkewSeconds: 30 });
    const issuers = await issuerSet('issuers.json');
    const key = await source.resolve(credential, Date.now());
    expect(key).toMatchObject({ device: 'alice', alg: 'ES256', source: 'credential' });
    expect(key.notAfter).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  });

  it('signs messages and connection tokens that carry a credential written to --out', async () => {
    await ok('issuer', 'create', '--out', 'fleet.key.json', '--jwks', 'issuers.json');
    await ok('generate', '--device', 'alice');
    await ok(
      'credential',
      '--issuer',
      'fleet.key.json',
      '--key',
      'keys/alice.key.json',
      '--ttl',
      '2h',
      '--out',
      'a.jwt',
    );
    expect((await stat(join(dir, 'a.jwt'))).mode & 0o777).toBe(0o600);
    const issuers = await issuerSet('issuers.json');
    const keys = new DeviceKeys({
      credentials: new CredentialKeySource({ issuers: () => issuers, clockSkewSeconds: 30 }),
    });

    const jws = await ok('sign', '--key', 'keys/alice.key.json', '--credential', 'a.jwt', '--value', 'v=1');
    await expect(verifyWith(keys, jws)).resolves.toMatchObject({ device: 'alice', keySource: 'credential' });
    const token = await ok('connect-token', '--key', 'keys/alice.key.json', '--credential', 'a.jwt');
    const options = { keys, audience: DEFAULT_TOKEN_AUDIENCE, now: Date.now(), clockSkewSeconds: 30 };
    await expect(verifyConnectionToken(token.trim(), { ...options, maxLifetimeSeconds: 3600 })).resolves.toMatchObject({
      device: 'alice',
      keySource: 'credential',
    });
  });

  it('appends a second issuer key without sub to the same JWKS for rotation', async () => {
    await ok('issuer', 'create', '--out', 'old.key.json', '--jwks', 'issuers.json', '--kid', 'fleet.2025');
    await ok('issuer', 'create', '--out', 'new.key.json', '--jwks', 'issuers.json');
    const { keys } = await readJson<{ keys: Array<Record<string, unknown>> }>('issuers.json');
    expect(keys.map((k) => k.kid)).toEqual(['fleet.2025', expect.stringMatching(/^issuer\.[0-9a-f]{8}$/)]);
    for (const key of keys) {
      expect(key).not.toHaveProperty('sub');
      expect(key).not.toHaveProperty('d');
    }
    expect((await stat(join(dir, 'new.key.json'))).mode & 0o777).toBe(0o600);
    const clash = await cli(
      'issuer',
      'create',
      '--out',
      'third.key.json',
      '--jwks',
      'issuers.json',
      '--kid',
      'fleet.2025',
    );
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('--kid fleet.2025 is already in');
  });

  it('refuses to overwrite an issuer key file unless --force is given', async () => {
    await ok('issuer', 'create', '--out', 'fleet.key.json');
    const { code, stderr } = await cli('issuer', 'create', '--out', 'fleet.key.json');
    expect(code).toBe(1);
    expect(stderr).toContain('refusing to overwrite');
    await ok('issuer', 'create', '--out', 'fleet.key.json', '--force');
  });
});

describe('telemetry keys operator-token', () => {
  it('prints an operator token that verifies with the operator issuer JWKS', async () => {
    await ok('issuer', 'create', '--out', 'operator.key.json', '--jwks', 'operators.json');
    const scope = 'read:device:alice read:prefix:boiler-';
    const token = await ok('operator-token', '--issuer', 'operator.key.json', '--scope', scope, '--subject', 'ops');
    const verified = await verifyOperatorToken(token.trim(), {
      issuers: await issuerSet('operators.json'),
      now: Date.now(),
      clockSkewSeconds: 30,
    });
    expect(verified).toMatchObject({ subject: 'ops', scopes: ['read:device:alice', 'read:prefix:boiler-'] });
    expect(verified.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
  });

  it.each([
    [['--scope', 'write'], '--scope'],
    [['--scope', 'read', '--ttl', 'soon'], '--ttl'],
    [['--scope', 'read', '--ttl', '0'], '--ttl'],
  ])('rejects %j as a usage error naming %s', async (args, option) => {
    await ok('issuer', 'create', '--out', 'operator.key.json');
    const { code, stderr } = await cli('operator-token', '--issuer', 'operator.key.json', ...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`^telemetry keys operator-token: ${option} `));
  });
});

describe('telemetry keys sign and connect-token', () => {
  it('signs the given seq, time and values', async () => {
    await ok('generate', '--device', 'alice', '--registry', 'registry.json');
    const ts = String(Date.now() - 60_000);
    const jws = await ok(
      'sign',
      '--key',
      'keys/alice.key.json',
      '--seq',
      '42',
      '--ts',
      ts,
      '--value',
      'a=-1.5e2',
      '--value',
      'b=3',
    );
    const message = await verifyWith(await registryKeys(), jws);
    expect(message.seq).toBe(42);
    expect(message.readings).toEqual([{ device: 'alice', ts: Number(ts), values: { a: -150, b: 3 } }]);
  });

  it.each([
    [['--value', 'temperature=hot'], '--value'],
    [['--value', 'temperature=Infinity'], '--value'],
    [['--value', '9lives=1'], '--value'],
    [['--value', 'a=1', '--value', 'a=2'], '--value'],
    [[], '--value'],
    [['--value', 'a=1', '--seq=-1'], '--seq'],
    [['--value', 'a=1', '--ts', '1.5'], '--ts'],
  ])('rejects %j as a usage error naming %s', async (args, option) => {
    await ok('generate', '--device', 'alice');
    const { code, stderr } = await cli('sign', '--key', 'keys/alice.key.json', ...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`^telemetry keys sign: ${option} `));
  });

  it('prints a connection token that verifies for the given audience', async () => {
    await ok('generate', '--device', 'alice', '--registry', 'registry.json');
    const token = await ok('connect-token', '--key', 'keys/alice.key.json', '--ttl', '15m', '--audience', 'plant-3');
    const options = { keys: await registryKeys(), now: Date.now(), clockSkewSeconds: 30, maxLifetimeSeconds: 900 };
    await expect(verifyConnectionToken(token.trim(), { ...options, audience: 'plant-3' })).resolves.toMatchObject({
      device: 'alice',
      keySource: 'registry',
    });
    expect(await errorCode(verifyConnectionToken(token.trim(), { ...options, audience: DEFAULT_TOKEN_AUDIENCE }))).toBe(
      'ERR_TOKEN_INVALID',
    );
  });
});
