import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { keysCommand } from '../../cli/keys/keys-command.js';
import { capturingIo } from '../support/capturing-io.js';
import { cli, dir, errorCode, ok, readJson, registryKeys, useKeysDir, verifyWith } from './keys-command-support.js';

useKeysDir();

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
    expect(stdout).toBe(keysCommand.help(capturingIo({ cwd: dir }).io));
    for (const [name] of SUBCOMMANDS) expect(stdout).toContain(`  ${name} `);
  });

  it('prints the overview for keys help and keys help help', async () => {
    for (const args of [['help'], ['help', 'help'], ['-h', '--help']]) {
      const { io, result } = capturingIo({ cwd: dir });
      expect(result(await keysCommand.run(args, io))).toEqual({ code: 0, stdout: keysCommand.help(io), stderr: '' });
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
