import { connect } from 'node:net';

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'http:': 80,
  'https:': 443,
  'mqtt:': 1883,
  'mqtts:': 8883,
  'ws:': 80,
  'wss:': 443,
};

/** One TCP connection attempt; resolves with undefined when it opens, else with why not (ECONNREFUSED, ETIMEDOUT). */
function tryConnect(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done('ETIMEDOUT'));
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? 'ECONNREFUSED'));
  });
}

/**
 * Whether something answers at `url` (an HTTP or MQTT URL): a TCP connection to its host and port,
 * tried again until `withinMs` has passed, so a node still starting is waited for but a wrong address
 * fails in seconds, not after the whole run. Resolves with undefined when one opened, else with the
 * last reason (ECONNREFUSED, ETIMEDOUT, ENOTFOUND, or EINVAL for a URL that names no host).
 */
export async function probeNode(url: string, withinMs: number): Promise<string | undefined> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return 'EINVAL';
  }
  const port = target.port === '' ? DEFAULT_PORTS[target.protocol] : Number(target.port);
  if (port === undefined || target.hostname === '') return 'EINVAL';
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const deadline = Date.now() + withinMs;
  for (;;) {
    const left = deadline - Date.now();
    const why = await tryConnect(host, port, Math.max(100, Math.min(2_000, left)));
    if (why === undefined) return undefined;
    if (why === 'ENOTFOUND' || Date.now() + 250 >= deadline) return why;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
