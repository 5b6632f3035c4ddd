import { access, constants, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, freePort, requireBinary, runServerProcess, type TestServer } from './server-process.js';

/** A running Mosquitto broker; `url` is `mqtt://127.0.0.1:{port}`. */
export type MosquittoServer = TestServer;

/** Where Debian installs the broker; /usr/sbin is not on every PATH. */
const DEBIAN_BINARY = '/usr/sbin/mosquitto';

async function findMosquitto(): Promise<string> {
  try {
    await access(DEBIAN_BINARY, constants.X_OK);
    return DEBIAN_BINARY;
  } catch {
    return requireBinary('mosquitto', 'mosquitto');
  }
}

/**
 * Starts `mosquitto` (Debian package `mosquitto`, 2.0.x) on a free loopback port with a generated config in a
 * temporary folder: anonymous clients, no persistence (sessions live as long as the process), and a queue deep
 * enough that a test's burst is never dropped. Waits until it accepts connections.
 */
export async function startMosquitto(): Promise<MosquittoServer> {
  const binary = await findMosquitto();
  const dataDir = await mkdtemp(join(tmpdir(), 'mosquitto-test-'));
  const port = await freePort();
  const configPath = join(dataDir, 'mosquitto.conf');
  await writeFile(
    configPath,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      // Unacknowledged messages one subscriber may hold; MQTT 5 clients can lower it with Receive Maximum.
      'max_inflight_messages 20',
      // Beyond this many queued messages per session Mosquitto drops QoS 1 messages it already acknowledged.
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  return runServerProcess({
    binary,
    args: ['-c', configPath],
    url: `mqtt://127.0.0.1:${port}`,
    dataDir,
    ready: () => accepts(port),
  });
}
