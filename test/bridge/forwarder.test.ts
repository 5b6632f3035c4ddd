import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../bridge/bridge-metrics.js';
import { Forwarder } from '../../bridge/forward/forwarder.js';
import { NodeClient } from '../../bridge/forward/node-client.js';
import { DeviceKeysFolder } from '../../bridge/keys/device-keys-folder.js';
import { ReadingJournal } from '../../bridge/state/reading-journal.js';
import { SeqFile } from '../../bridge/state/seq-file.js';
import { pollUntil } from '../support/poll-until.js';

/** What the fake node saw: each request's path, body and arrival time. */
interface Seen {
  readonly path: string;
  readonly body: string;
  readonly at: number;
}

type Answer = (seen: Seen) => { status: number; headers?: Record<string, string>; body: unknown };

let dir: string;
let server: Server;
let seen: Seen[];
let answer: Answer;
let journal: ReadingJournal;
let forwarder: Forwarder;
let metrics: BridgeMetrics;

/** An answer per message of a request, as a node gives it. */
const accepted = (request: Seen) =>
  request.path === '/v1/messages'
    ? { status: 200, body: { status: 'accepted' } }
    : { status: 200, body: { results: JSON.parse(request.body).messages.map(() => ({ status: 'accepted' })) } };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forwarder-'));
  seen = [];
  answer = accepted;
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const request = { path: req.url ?? '', body, at: Date.now() };
      seen.push(request);
      const { status, headers, body: out } = answer(request);
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  journal = ReadingJournal.open(join(dir, 'backlog'), 1_000_000);
  metrics = new BridgeMetrics();
  forwarder = new Forwarder({
    journal,
    keys: new DeviceKeysFolder({
      dir: join(dir, 'keys'),
      create: true,
      alg: 'EdDSA',
      registry: undefined,
      onCreated: () => {},
    }),
    seqs: new SeqFile(dir),
    client: new NodeClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 5_000),
    metrics,
    logger: pino({ level: 'silent' }),
    limits: { maxReadingsPerMessage: 2, maxMessageBytes: 65_536 },
    batchMessages: 10,
    backoff: { baseMs: 10, maxMs: 50 },
    newKeyGraceMs: 0,
    now: Date.now,
  });
});

afterEach(async () => {
  await forwarder.stop();
  journal.close();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const add = (device: string, n: number) => journal.append([{ device, ts: 1_796_420_000_000 + n, values: { v: n } }]);
const left = () => journal.size;

describe('the forwarder', () => {
  it('sends a backlog as one batch of messages of at most maxReadingsPerMessage, then forgets it', async () => {
    for (const n of [1, 2, 3]) add('a', n);
    add('b', 1);
    forwarder.start();
    await pollUntil(async () => left() === 0, 'the backlog to empty');
    expect(seen.map((s) => s.path)).toEqual(['/v1/messages/batch']);
    expect(JSON.parse(seen[0]?.body ?? '').messages).toHaveLength(3);
    expect(await metrics.acknowledged.get()).toMatchObject({ values: [{ value: 4 }] });
  });

  it('sends a single message to /v1/messages', async () => {
    add('a', 1);
    forwarder.start();
    await pollUntil(async () => left() === 0, 'the reading to be acknowledged');
    expect(seen.map((s) => s.path)).toEqual(['/v1/messages']);
  });

  it('keeps readings the node could not store, and sends them again no sooner than its Retry-After', async () => {
    answer = (request) =>
      seen.length === 1
        ? { status: 503, headers: { 'retry-after': '1' }, body: { error: { code: 'ERR_OVERLOADED', retryable: true } } }
        : accepted(request);
    add('a', 1);
    forwarder.start();
    await pollUntil(async () => left() === 0, 'the reading to be acknowledged on a later attempt');
    expect(seen).toHaveLength(2);
    expect((seen[1]?.at ?? 0) - (seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
  });

  it('drops readings refused for good and counts them by code, without holding back the others', async () => {
    answer = (request) => ({
      status: 200,
      body: {
        results: JSON.parse(request.body).messages.map((_: string, i: number) =>
          i === 0
            ? { status: 'rejected', code: 'ERR_TIMESTAMP_OUT_OF_RANGE', retryable: false }
            : { status: 'accepted' },
        ),
      },
    });
    add('a', 1);
    add('b', 1);
    forwarder.start();
    await pollUntil(async () => left() === 0, 'the backlog to empty');
    expect((await metrics.rejected.get()).values).toEqual([
      { labels: { code: 'ERR_TIMESTAMP_OUT_OF_RANGE' }, value: 1 },
    ]);
    expect((await metrics.acknowledged.get()).values[0]?.value).toBe(1);
  });
});
