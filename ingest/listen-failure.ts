import type { ConfigKey } from '../src/config/config-schema.js';
import { settingProblem } from '../src/config/setting-problem.js';
import { ConfigError } from '../src/errors.js';

/** The node's listeners, each with the settings of its address and port. */
const LISTENER_SETTINGS = {
  http: { host: 'httpHost', port: 'httpPort' },
  mqtt: { host: 'mqttHost', port: 'mqttPort' },
  'mqtt-tls': { host: 'mqttHost', port: 'mqttTlsPort' },
  'mqtt-ws': { host: 'mqttHost', port: 'mqttWsPort' },
} as const satisfies Record<string, { host: ConfigKey; port: ConfigKey }>;

/** One of the node's listening sockets. */
export type Listener = keyof typeof LISTENER_SETTINGS;

/** A listener could not listen on its address and port; `code` is the system's (EADDRINUSE, EACCES, ...). */
export class ListenFailure extends Error {
  readonly listener: Listener;
  readonly host: string;
  readonly port: number;
  readonly code: string | undefined;

  constructor(listener: Listener, host: string, port: number, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(`the ${listener} listener cannot listen on ${host}:${port}`, { cause });
    this.name = 'ListenFailure';
    this.listener = listener;
    this.host = host;
    this.port = port;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/** Runs `listen`, turning its failure into a {@link ListenFailure} of `listener`. */
export async function listenAs<T>(
  listener: Listener,
  host: string,
  port: number,
  listen: () => Promise<T>,
): Promise<T> {
  try {
    return await listen();
  } catch (error) {
    throw new ListenFailure(listener, host, port, error);
  }
}

/** A ListenFailure as the start-up error an operator reads: the setting, its value, what is wrong, what to do. */
export function listenFailureProblem(failure: ListenFailure): ConfigError {
  const settings = LISTENER_SETTINGS[failure.listener];
  const { host, port } = failure;
  const problem = (() => {
    switch (failure.code) {
      case 'EADDRINUSE':
        return settingProblem(
          settings.port,
          port,
          `the port is in use on ${host} (another process, or another node, listens there)`,
          'stop what holds it, or choose another port (0 picks a free one)',
        );
      case 'EACCES':
      case 'EPERM':
        return settingProblem(
          settings.port,
          port,
          `this process may not listen on port ${port} (ports below 1024 need privileges)`,
          'choose a port from 1024 up, or give the process the right to bind it',
        );
      case 'EADDRNOTAVAIL':
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return settingProblem(
          settings.host,
          host,
          'no network interface of this machine has this address',
          'use 0.0.0.0 (every interface), 127.0.0.1, or an address of this machine',
        );
      default:
        return settingProblem(
          settings.port,
          port,
          `cannot listen on ${host}:${port} (${failure.code ?? 'unexpected failure'})`,
          'check the address and port, or choose others',
        );
    }
  })();
  return new ConfigError([problem], { heading: 'cannot start', cause: failure });
}
