import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keysCommand } from '../../cli/keys/keys-command.js';
import { runCli } from '../../cli/main.js';
import {
  CredentialKeySource,
  DEFAULT_LIMITS,
  DEFAULT_TOKEN_AUDIENCE,
  DeviceKeys,
  JwksRegistry,
  TelemetryError,
  verifyConnectionToken,
  verifyMessage,
  verifyOperatorToken,
} from '../../src/index.js';
import { type CliResult, capturingIo } from '../support/capturing-io.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keys-command-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<CliResult> {
  const { io, result } = capturingIo({ cwd: dir });
  return result(await runCli(['keys', ...argv], io));
}

/** Runs a command that must succeed and returns its stdout. */
async function ok(...argv: string[]): Promise<string> {
  const result = await cli(...argv);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

const readJson = async <T = Record<string, unknown>>(name: string): Promise<T> =>
  JSON.parse(await readFile(join(dir, name), 'utf8')) as T;

async function registryKeys(name = 'registry.json'): Promise<DeviceKeys> {
  const registry = JwksRegistry.fromDocument(await readJson(name));
  return new DeviceKeys({ registry: () => registry });
}

async function issuerSet(name: string): Promise<JwksRegistry> {
  return JwksRegistry.fromDocument(await readJson(name), name, { requireSub: false });
}

const verifyWith = (keys: DeviceKeys, jws: string) =>
  verifyMessage(jws.trim(), { keys, limits: DEFAULT_LIMITS, now: Date.now });

async function errorCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TelemetryError)) throw new Error(`expected a TelemetryError, got ${String(error)}`);
  return error.code;
}

const SUBCOMMANDS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['generate', ['--device', '--alg', '--out', '--registry', '--force']],
  ['registry add', ['--registry', '--key']],
  ['registry remove', ['--registry', '--kid', '--device']],
  ['registry list', ['--registry', '--json']],
  ['issuer create', ['--out', '--alg', '--kid', '--jwks', '--force']],
  ['credential', ['--issuer', '--key', '--ttl', '--out']],
  ['operator-token', ['--issuer', '--scope', '--subject', '--ttl']],
  ['sign', ['--key', '--credential', '--seq', '--ts', '--value']],
  ['connect-token', ['--key', '--credential', '--ttl', '--audience']],
];

describe('telemetry keys help', () => {
  it('prints the overview listing every subcommand for keys --help', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    expect(stdout).toBe(keysCommand.help);
    for (const [name] of SUBCOMMANDS) expect(stdout).toContain(`  ${name} `);
  });

  it('prints the overview for keys help and keys help help', async () => {
    for (const args of [['help'], ['help', 'help'], ['-h', '--help']]) {
      const { io, result } = capturingIo({ cwd: dir });
      expect(result(await keysCommand.run(args, io))).toEqual({ code: 0, stdout: keysCommand.help, stderr: '' });
    }
  });

  it('prints the overview on stderr and exits 2 without a subcommand', async () => {
    const { code, stderr } = await cli();
    expect(code).toBe(2);
    expect(stderr).toContain('Usage: telemetry keys <subcommand>');
  });

  it('exits 2 naming an unknown subcommand', async () => {
    const { code, stderr } = await cli('registry', 'purge');
    expect(code).toBe(2);
    expect(stderr).toContain("unknown subcommand 'registry purge'");
  });

  it.each(SUBCOMMANDS)(
    'prints the usage of keys %s with every option, its default and an example',
    async (name, options) => {
      const words = name.split(' ');
      const { io, result } = capturingIo({ cwd: dir });
      const direct = result(await keysCommand.run([...words, '--help'], io));
      const viaCli = await cli('help', ...words);
      for (const { code, stdout } of [direct, viaCli]) {
        expect(code).toBe(0);
        expect(stdout).toContain(`Usage: telemetry keys ${name} `);
        expect(stdout).toContain(`Example:\n  telemetry keys ${name} `);
        for (const option of options) {
          const line = stdout.split('\n').find((l) => l.startsWith(`  ${option}`));
          expect(line, option).toMatch(/(Required|Default: .+)\.$/);
        }
      }
    },
  );

  it('lists a group’s subcommands for keys registry --help', async () => {
    const { io, result } = capturingIo({ cwd: dir });
    const { code, stdout } = result(await keysCommand.run(['registry', '--help'], io));
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: telemetry keys registry <subcommand>');
    expect(stdout).toMatch(/^ {2}add +Add the public half/m);
    expect(stdout).not.toContain('generate');
  });
});

describe('telemetry keys generate', () => {
  it('generates a device key whose signed message verifies against the registry it was added to', async () => {
    const stdout = await ok('generate', '--device', 'boiler-7', '--registry', 'registry.json');
    const kid = /^kid +(\S+)$/m.exec(stdout)?.[1];
    expect(kid).toMatch(/^boiler-7\.[0-9a-f]{8}$/);
    const key = await readJson<JWK & { sub: string }>('keys/boiler-7.key.json');
    expect(key).toMatchObject({ kid, alg: 'ES256', sub: 'boiler-7', use: 'sig', kty: 'EC', crv: 'P-256' });
    expect(typeof key.d).toBe('string');
    expect((await readJson<{ keys: JWK[] }>('registry.json')).keys[0]).not.toHaveProperty('d');

    const jws = await ok('sign', '--key', 'keys/boiler-7.key.json', '--value', 'temperature=21.5');
    const message = await verifyWith(await registryKeys(), jws);
    expect(message).toMatchObject({ device: 'boiler-7', kid, keySource: 'registry' });
    expect(message.readings[0]?.values).toEqual({ temperature: 21.5 });
  });

  it('writes the private key with mode 0600 and prints no private key material', async () => {
    const result = await cli('generate', '--device', 'alice', '--alg', 'EdDSA', '--out', 'secrets');
    expect(result.code).toBe(0);
    const key = await readJson<JWK>('secrets/alice.key.json');
    expect(key).toMatchObject({ alg: 'EdDSA', kty: 'OKP', crv: 'Ed25519' });
    expect((await stat(join(dir, 'secrets/alice.key.json'))).mode & 0o777).toBe(0o600);
    expect(result.stdout + result.stderr).not.toContain(String(key.d));
  });

  it('refuses to overwrite an existing key file unless --force is given', async () => {
    await ok('generate', '--device', 'alice');
    const before = await readFile(join(dir, 'keys/alice.key.json'), 'utf8');
    const refused = await cli('generate', '--device', 'alice');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^telemetry keys generate: refusing to overwrite .*alice\.key\.json; pass --force/);
    expect(await readFile(join(dir, 'keys/alice.key.json'), 'utf8')).toBe(before);

    await ok('generate', '--device', 'alice', '--force');
    expect(await readFile(join(dir, 'keys/alice.key.json'), 'utf8')).not.toBe(before);
    expect((await stat(join(dir, 'keys/alice.key.json'))).mode & 0o777).toBe(0o600);
  });

  it.each([
    [['--device', 'bad/device'], '--device'],
    [['--device', 'alice', '--alg', 'RS256'], '--alg'],
    [[], '--device'],
    [['--device', 'alice', '--colour', 'red'], '--colour'],
  ])('rejects %j as a usage error naming %s', async (args, option) => {
    const { code, stderr } = await cli('generate', ...args);
    expect(code).toBe(2);
    expect(stderr).toContain(option);
    expect(stderr).toContain("Run 'telemetry keys generate --help' for usage.");
  });

  it('leaves no key file behind when the registry is not valid', async () => {
    await writeFile(join(dir, 'registry.json'), 'not json');
    const { code, stderr } = await cli('generate', '--device', 'alice', '--registry', 'registry.json');
    expect(code).toBe(1);
    expect(stderr).toMatch(/registry\.json: not valid JSON\n$/);
    await expect(stat(join(dir, 'keys/alice.key.json'))).rejects.toThrow();
  });
});

describe('telemetry keys registry', () => {
  it('rejects a removed device’s messages with ERR_UNKNOWN_KEY', async () => {
    await ok('generate', '--device', 'alice', '--registry', 'registry.json');
    await ok('generate', '--device', 'bob', '--registry', 'registry.json');
    const jws = await ok('sign', '--key', 'keys/alice.key.json', '--value', 'rpm=1200');
    await verifyWith(await registryKeys(), jws);

    const stdout = await ok('registry', 'remove', '--registry', 'registry.json', '--device', 'alice');
    expect(stdout).toMatch(/^removed alice\.[0-9a-f]{8} \(device alice\)/);
    expect(await errorCode(verifyWith(await registryKeys(), jws))).toBe('ERR_UNKNOWN_KEY');
    const bobs = await ok('sign', '--key', 'keys/bob.key.json', '--value', 'rpm=1');
    await expect(verifyWith(await registryKeys(), bobs)).resolves.toMatchObject({ device: 'bob' });
  });

  it('adds a key file, strips its private member, and refuses the same kid twice', async () => {
    await ok('generate', '--device', 'alice');
    const key = await readJson<JWK>('keys/alice.key.json');
    expect(await ok('registry', 'add', '--registry', 'registry.json', '--key', 'keys/alice.key.json')).toContain(
      `added ${key.kid} (device alice, ES256)`,
    );
    expect(JSON.stringify(await readJson('registry.json'))).not.toContain(String(key.d));
    const again = await cli('registry', 'add', '--registry', 'registry.json', '--key', 'keys/alice.key.json');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`already holds a key with kid "${key.kid}"`);
  });

  it('removes one key by kid and fails when nothing matches', async () => {
    await ok('generate', '--device', 'alice', '--registry', 'registry.json');
    const { kid } = await readJson<JWK>('keys/alice.key.json');
    await ok('registry', 'remove', '--registry', 'registry.json', '--kid', String(kid));
    expect(await readJson('registry.json')).toEqual({ keys: [] });
    const none = await cli('registry', 'remove', '--registry', 'registry.json', '--kid', String(kid));
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`holds no key with kid ${kid}; nothing was removed`);
  });

  it.each([[[]], [['--kid', 'a.k1', '--device', 'a']]])(
    'requires exactly one of --kid and --device (%j)',
    async (args) => {
      const { code, stderr } = await cli('registry', 'remove', '--registry', 'registry.json', ...args);
      expect(code).toBe(2);
      expect(stderr).toContain('give exactly one of --kid and --device');
    },
  );

  it('lists keys as a table and as JSON', async () => {
    await ok('generate', '--device', 'alice', '--registry', 'registry.json');
    await ok('generate', '--device', 'edna', '--alg', 'EdDSA', '--registry', 'registry.json');
    const table = await ok('registry', 'list', '--registry', 'registry.json');
    expect(table).toMatch(/^KID +DEVICE +ALG\nalice\.[0-9a-f]{8} +alice +ES256\nedna\.[0-9a-f]{8} +edna +EdDSA\n$/);
    const rows = JSON.parse(await ok('registry', 'list', '--registry', 'registry.json', '--json')) as unknown[];
    expect(rows).toEqual([
      { kid: expect.stringMatching(/^alice\./), device: 'alice', alg: 'ES256' },
      { kid: expect.stringMatching(/^edna\./), device: 'edna', alg: 'EdDSA' },
    ]);
  });
});

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

describe('telemetry keys with bad files', () => {
  it('fails with one line when a key file is missing', async () => {
    const { code, stdout, stderr } = await cli('sign', '--key', 'nope.json', '--value', 'a=1');
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toBe(
      `telemetry keys sign: cannot read the device key file ${join(dir, 'nope.json')}: no such file\n`,
    );
  });

  it('fails without quoting the file when a key file is not JSON', async () => {
    await writeFile(join(dir, 'broken.json'), '{"d": "PRIVATE-BITS", ');
    const { code, stderr } = await cli('connect-token', '--key', 'broken.json');
    expect(code).toBe(1);
    expect(stderr).toBe(
      `telemetry keys connect-token: the device key file ${join(dir, 'broken.json')} is not valid JSON\n`,
    );
  });

  it('fails when a public key is given where a private one is needed', async () => {
    await ok('generate', '--device', 'alice', '--registry', 'registry.json');
    const { keys } = await readJson<{ keys: JWK[] }>('registry.json');
    await writeFile(join(dir, 'public.json'), JSON.stringify(keys[0]));
    const signed = await cli('sign', '--key', 'public.json', '--value', 'a=1');
    expect(signed.code).toBe(1);
    expect(signed.stderr).toContain('holds no private key (member "d")');
    const issued = await cli('credential', '--issuer', 'public.json', '--key', 'keys/alice.key.json');
    expect(issued.code).toBe(1);
    expect(issued.stderr).toMatch(/^telemetry keys credential: the issuer key file .* holds no private key/);
  });

  it('fails when a device key file names no device', async () => {
    await ok('issuer', 'create', '--out', 'fleet.key.json');
    const { code, stderr } = await cli('credential', '--issuer', 'fleet.key.json', '--key', 'fleet.key.json');
    expect(code).toBe(1);
    expect(stderr).toContain('has no valid "sub" (device id)');
  });

  it('fails with one line when the registry file is missing or not a JWKS', async () => {
    const missing = await cli('registry', 'list', '--registry', 'registry.json');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `telemetry keys registry list: ${join(dir, 'registry.json')}: cannot read the registry (no such file)\n`,
    );
    await writeFile(join(dir, 'registry.json'), '[]');
    const invalid = await cli('registry', 'list', '--registry', 'registry.json');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('not a JWKS document');
  });
});
