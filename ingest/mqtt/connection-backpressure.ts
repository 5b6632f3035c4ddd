import type { Client } from 'aedes';

type ReadTrigger = (error?: Error | null) => void;

/**
 * The hook into aedes' read loop (lib/client.js, aedes 1.x), which its types
 * do not declare. `_nextBatch` is both the connection's 'readable' listener and
 * the callback each parsed packet calls once handled; every call lowers a
 * pending-packet counter and, at zero, reads all the socket holds and parses it.
 * 'readable' events lower it too, so aedes alone reads ahead without bound.
 */
interface AedesReadLoop {
  _nextBatch: ReadTrigger;
}

function readLoopOf(client: Client): AedesReadLoop {
  const loop = client as unknown as Partial<AedesReadLoop>;
  const next = loop._nextBatch;
  if (typeof next !== 'function' || !client.conn.listeners('readable').includes(next)) {
    // Without the hook there is no backpressure: refuse to run rather than read ahead silently.
    throw new Error("aedes' read loop has changed: check ingest/mqtt/connection-backpressure.ts against lib/client.js");
  }
  return loop as AedesReadLoop;
}

/**
 * Per-connection backpressure on the embedded broker (docs/PROTOCOL.md §10.1,
 * "Backpressure"): at most `limit` of a connection's publishes run at once, the
 * rest wait their turn in arrival order, and while `limit` are running or
 * waiting the node reads nothing more from the connection, so TCP flow control
 * slows the device down.
 *
 * Pausing holds back every call into aedes' read loop — 'readable' events and
 * "packet handled" callbacks alike — and replays them in order once below the
 * limit. aedes sees the same calls as without pausing, only later, so no packet
 * is lost or reordered and its own bookkeeping stays right. Packets already
 * parsed when the limit is reached (one socket read may hold many) wait here.
 *
 * @example
 * const backpressure = new ConnectionBackpressure(broker.handle(conn), 32, (error) => log.error({ error }));
 * // in authorizePublish:
 * backpressure.run(() => handlePublish(packet, callback));
 */
export class ConnectionBackpressure {
  readonly limit: number;
  /** Tasks waiting for a slot; each is started as a slot is handed to it. */
  readonly #waiting: (() => Promise<void>)[] = [];
  readonly #onError: (error: unknown) => void;
  readonly #read: ReadTrigger;
  #running = 0;
  #heldBack = 0;

  /** Takes over `client`'s read loop; call it right after `broker.handle(conn)`, before any packet is read. */
  constructor(client: Client, limit: number, onError: (error: unknown) => void) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
    this.limit = limit;
    this.#onError = onError;
    const loop = readLoopOf(client);
    const read = loop._nextBatch;
    this.#read = read;
    const trigger: ReadTrigger = (error) => {
      // A failed packet closes the connection: that is never held back.
      if (error) read(error);
      else if (this.paused) this.#heldBack++;
      else read();
    };
    // aedes looks the callback up on the client for every packet it parses.
    loop._nextBatch = trigger;
    // Swapped within one tick, so the stream never sees no 'readable' listener and never starts flowing.
    client.conn.removeListener('readable', read);
    client.conn.on('readable', trigger);
  }

  /** Publishes running or waiting to run. */
  get pending(): number {
    return this.#running + this.#waiting.length;
  }

  /** Whether the node has stopped reading from the connection. */
  get paused(): boolean {
    return this.pending >= this.limit;
  }

  /**
   * Runs `task` once fewer than `limit` tasks run, after every task handed in before it has started; the slot is
   * freed when the promise `task` returns settles. `task` must handle its own failures: a rejection is only
   * passed to `onError` (one promise per task, no more: this is on every publish's path).
   */
  run(task: () => Promise<void>): void {
    if (this.#running < this.limit) {
      this.#running++;
      this.#start(task);
    } else {
      this.#waiting.push(task);
    }
  }

  #start(task: () => Promise<void>): void {
    let settled: Promise<void>;
    try {
      settled = task();
    } catch (error) {
      settled = Promise.reject(error);
    }
    settled.then(this.#finished, this.#failed);
  }

  readonly #finished = (): void => this.#finish();

  readonly #failed = (error: unknown): void => {
    this.#finish();
    this.#onError(error);
  };

  #finish(): void {
    // The slot passes straight to the next waiting task, which starts now: were it
    // started a microtask later, a task read in between could overtake it.
    const next = this.#waiting.shift();
    if (next === undefined) this.#running--;
    else this.#start(next);
    // Each replayed call may parse packets that fill the window again; the rest then waits for the next turn.
    while (this.#heldBack > 0 && !this.paused) {
      this.#heldBack--;
      this.#read();
    }
  }
}
