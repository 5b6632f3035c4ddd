import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const nodeArgs = ['--import', pathToFileURL(`${root}node_modules/tsx/dist/loader.mjs`).href, `${root}cli/bin.ts`];

let dir: string;
let registry: string;
const servers: Array<Server | HttpServer> = [];

/** What a `telemetry serve` that could not start printed, and its exit code. */
interface Failure {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `telemetry serve` with `env` (on free ports, in the temporary folder) until it exits. */
function serveFails(env: NodeJS.ProcessEnv): Promise<Failure> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...nodeArgs, 'serve'],
      {
        cwd: dir,
        env: {
          ...process.env,
          TELEMETRY_HTTP_HOST: '127.0.0.1',
          TELEMETRY_HTTP_PORT: '0',
          TELEMETRY_MQTT_HOST: '127.0.0.1',
          TELEMETRY_MQTT_PORT: '0',
          TELEMETRY_KEY_REGISTRY: registry,
          TELEMETRY_DATA_DIR: join(dir, 'data'),
          ...env,
        },
        // A node that starts after all would run until killed: that fails the test, not the run.
        timeout: 90_000,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A port something else listens on, on 127.0.0.1. */
async function takenPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A URL on loopback answering every request with `status` and `body`. */
async function answering(status: number, body: string): Promise<string> {
  const server = createHttpServer((_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
}

/** Expects the failure to be a configuration one, in a few lines naming `setting` and `value`, with no stack. */
function expectNamedFailure(failure: Failure, setting: string, value: string, what: RegExp): void {
  expect(failure.code, failure.stderr).toBe(78);
  expect(failure.stderr).toContain(setting);
  expect(failure.stderr).toContain(value);
  expect(failure.stderr).toMatch(what);
  expect(failure.stderr).not.toMatch(/^\s+at /m);
  expect(failure.stderr.trim().split('\n').length).toBeLessThanOrEqual(4);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'serve-start-'));
  registry = join(dir, 'registry.json');
  await writeFile(registry, '{"keys":[]}\n');
  // A certificate TLS can use, made with the openssl CLI (Debian package `openssl`).
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1'].concat(
      ['-days', '1', '-keyout', join(dir, 'good-key.pem'), '-out', join(dir, 'good-cert.pem')],
    ),
    { stdio: 'pipe' },
  );
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  await rm(dir, { recursive: true, force: true });
});

// Each case starts a real process (two, with workers): generous deadlines for a loaded 2-core machine.
describe('telemetry serve, when it cannot start', { timeout: 120_000 }, () => {
  it('names the registry setting and the file when the registry file is missing', async () => {
    const missing = join(dir, 'no-such-registry.json');
    const failure = await serveFails({ TELEMETRY_KEY_REGISTRY: missing });
    expectNamedFailure(failure, 'TELEMETRY_KEY_REGISTRY (--key-registry)', missing, /no such file; point it at/);
  });

  it('says the registry cannot be read when it names a folder', async () => {
    const folder = join(dir, 'a-folder');
    await mkdir(folder, { recursive: true });
    const failure = await serveFails({ TELEMETRY_KEY_REGISTRY: folder });
    expectNamedFailure(failure, 'TELEMETRY_KEY_REGISTRY', folder, /is a folder, not a file/);
  });

  it('says the registry is not valid JSON without quoting it', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"keys": [ {"kty": "OKP", "x": "c2VjcmV0LWlzaC1rZXk"} }');
    const failure = await serveFails({ TELEMETRY_KEY_REGISTRY: bad });
    expectNamedFailure(failure, 'TELEMETRY_KEY_REGISTRY', bad, /not valid JSON/);
    expect(failure.stderr).not.toContain('c2VjcmV0LWlzaC1rZXk');
  });

  it('names the URL when nothing answers at the registry URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/jwks.json`;
    const failure = await serveFails({ TELEMETRY_KEY_REGISTRY: url });
    expectNamedFailure(failure, 'TELEMETRY_KEY_REGISTRY', url, /nothing answers there \(connection refused\)/);
  });

  it('names the HTTP status when the registry URL answers with an error', async () => {
    const url = await answering(404, '{}');
    const failure = await serveFails({ TELEMETRY_KEY_REGISTRY: url });
    expectNamedFailure(failure, 'TELEMETRY_KEY_REGISTRY', url, /answered HTTP 404/);
  });

  it('says the registry URL answered something that is not JSON', async () => {
    const url = await answering(200, '<html>maintenance</html>');
    const failure = await serveFails({ TELEMETRY_KEY_REGISTRY: url });
    expectNamedFailure(failure, 'TELEMETRY_KEY_REGISTRY', url, /the answer is not valid JSON/);
  });

  it('lists every issuer file that is missing, each with its setting', async () => {
    const credentials = join(dir, 'no-fleet.jwks.json');
    const operators = join(dir, 'no-operators.jwks.json');
    const failure = await serveFails({
      TELEMETRY_CREDENTIAL_ISSUERS: credentials,
      TELEMETRY_OPERATOR_ISSUERS: operators,
    });
    expectNamedFailure(failure, 'TELEMETRY_CREDENTIAL_ISSUERS (--credential-issuers)', credentials, /no such file/);
    expectNamedFailure(failure, 'TELEMETRY_OPERATOR_ISSUERS (--operator-issuers)', operators, /no such file/);
  });

  it('names both TLS files when they are missing', async () => {
    const cert = join(dir, 'no-cert.pem');
    const key = join(dir, 'no-key.pem');
    const failure = await serveFails({
      TELEMETRY_MQTT_TLS_PORT: '0',
      TELEMETRY_MQTT_TLS_CERT: cert,
      TELEMETRY_MQTT_TLS_KEY: key,
    });
    expectNamedFailure(failure, 'TELEMETRY_MQTT_TLS_CERT', cert, /no such file; point it at the PEM certificate/);
    expectNamedFailure(failure, 'TELEMETRY_MQTT_TLS_KEY', key, /no such file; point it at the PEM private key/);
  });

  it('says TLS cannot use a certificate and key that are not PEM', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    await writeFile(cert, 'not a certificate\n');
    await writeFile(key, 'not a key\n');
    const failure = await serveFails({
      TELEMETRY_MQTT_TLS_PORT: '0',
      TELEMETRY_MQTT_TLS_CERT: cert,
      TELEMETRY_MQTT_TLS_KEY: key,
    });
    expectNamedFailure(failure, 'TELEMETRY_MQTT_TLS_CERT', cert, /TLS cannot use it with TELEMETRY_MQTT_TLS_KEY/);
  });

  it.each([
    ['HTTP', 'TELEMETRY_HTTP_PORT (--http-port)', 'TELEMETRY_HTTP_PORT'],
    ['MQTT', 'TELEMETRY_MQTT_PORT (--mqtt-port)', 'TELEMETRY_MQTT_PORT'],
    ['MQTT over TLS', 'TELEMETRY_MQTT_TLS_PORT (--mqtt-tls-port)', 'TELEMETRY_MQTT_TLS_PORT'],
    ['MQTT over WebSocket', 'TELEMETRY_MQTT_WS_PORT (--mqtt-ws-port)', 'TELEMETRY_MQTT_WS_PORT'],
  ])('names the %s port setting when its port is in use', async (_listener, setting, variable) => {
    const port = String(await takenPort());
    const tls =
      variable === 'TELEMETRY_MQTT_TLS_PORT'
        ? { TELEMETRY_MQTT_TLS_CERT: join(dir, 'good-cert.pem'), TELEMETRY_MQTT_TLS_KEY: join(dir, 'good-key.pem') }
        : {};
    const failure = await serveFails({ ...tls, [variable]: port });
    expectNamedFailure(failure, setting, `= ${port}:`, /the port is in use on 127\.0\.0\.1.*choose another port/);
  });

  it('names the data folder when the embedded store cannot be opened there', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    const failure = await serveFails({ TELEMETRY_DATA_DIR: file });
    expectNamedFailure(failure, 'TELEMETRY_DATA_DIR (--data-dir)', file, /cannot open the embedded store/);
  });

  it('names TELEMETRY_STORE when DuckDB cannot be loaded for the embedded store', async () => {
    const hook = pathToFileURL(`${root}test/support/without-duckdb.mjs`).href;
    const failure = await serveFails({ NODE_OPTIONS: `--import ${hook}`, TELEMETRY_STORE: 'embedded' });
    expectNamedFailure(failure, 'TELEMETRY_STORE (--store)', 'embedded', /DuckDB cannot be loaded on this machine/);
    expect(failure.stderr).toContain('TELEMETRY_STORE=victoriametrics or influxdb');
  });

  it('prints the stacks too with TELEMETRY_LOG_LEVEL=debug', async () => {
    const failure = await serveFails({ TELEMETRY_KEY_REGISTRY: join(dir, 'gone.json'), TELEMETRY_LOG_LEVEL: 'debug' });
    expect(failure.code, failure.stderr).toBe(78);
    expect(failure.stderr).toContain('TELEMETRY_KEY_REGISTRY');
    expect(failure.stderr).toMatch(/^\s+at /m);
  });

  it('with worker processes, prints the failure once and exits 78 instead of replacing workers', async () => {
    const missing = join(dir, 'workers-registry.json');
    const failure = await serveFails({
      TELEMETRY_WORKERS: '2',
      TELEMETRY_STORE: 'victoriametrics',
      TELEMETRY_INFLUX_URL: `http://127.0.0.1:${await closedPort()}`,
      TELEMETRY_KEY_REGISTRY: missing,
    });
    expect(failure.code, failure.stderr).toBe(78);
    expect(failure.stderr.split(missing).length - 1).toBe(1);
    expect(failure.stderr).toContain('TELEMETRY_KEY_REGISTRY (--key-registry)');
    expect(failure.stderr).not.toContain('starting another');
    expect(failure.stderr).not.toMatch(/^\s+at /m);
  });
});
