import type { Duplex } from 'node:stream';
import type { Client } from 'aedes';
import type { ErrorCode } from '../../src/errors.js';
import type { DeviceKeySource } from '../../src/protocol/trusted-key.js';
import type { TransportDeps } from '../transport-deps.js';
import type { ConnectionBackpressure } from './connection-backpressure.js';
import type { DeviceSession } from './device-session.js';

/** What the broker logs: the device id and the error code, never a token or payload. */
export interface BrokerLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/** What authenticating a CONNECT needs: the device keys and the connection-token rules. */
export interface ConnectionTokenRules {
  readonly keys: DeviceKeySource;
  readonly tokenAudience: string;
  readonly maxTokenLifetimeSeconds: number;
  readonly clockSkewSeconds: number;
}

/**
 * The state every aedes hook of one embedded broker shares: who each client
 * is, each connection's pacing, and the publishes still being handled (close()
 * waits for them). It lives as long as the broker and holds nothing a restart
 * would miss: a device reconnects and resends.
 */
export class BrokerContext {
  readonly deps: TransportDeps;
  readonly log: BrokerLogger | undefined;
  /** The authenticated device of each connection. */
  readonly sessions = new WeakMap<Client, DeviceSession>();
  readonly backpressure = new WeakMap<Client, ConnectionBackpressure>();
  readonly connections = new Map<Duplex, Client>();
  /** The largest MQTT packet a connection may send: the largest message plus the PUBLISH header. */
  readonly maxPacketBytes: number;
  #closing = false;
  // Publishes handed to the pipeline (running or waiting their turn) and not settled yet.
  #inflight = 0;
  #allSettled: (() => void) | undefined;

  constructor(deps: TransportDeps, maxPacketBytes: number, log: BrokerLogger | undefined) {
    this.deps = deps;
    this.maxPacketBytes = maxPacketBytes;
    this.log = log;
  }

  /** True once the broker began closing: no new connection or publish is taken. */
  get closing(): boolean {
    return this.#closing;
  }

  beginClosing(): void {
    this.#closing = true;
  }

  /** Counts a refusal in the node's metrics. */
  count(code: ErrorCode): void {
    this.deps.metrics.rejected(code, { transport: 'mqtt' });
  }

  /** A publish was handed to the pipeline. */
  startedOne(): void {
    this.#inflight++;
  }

  /** A publish settled (acknowledged, refused or held). */
  settledOne(): void {
    if (--this.#inflight === 0) this.#allSettled?.();
  }

  /** Resolves when every publish handed to the pipeline has settled. */
  async allSettled(): Promise<void> {
    if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#allSettled = resolve));
  }
}
