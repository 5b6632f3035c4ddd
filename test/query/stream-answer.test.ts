import { request } from 'node:http';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { sendStreamed } from '../../ingest/query/stream-answer.js';
import type { AnswerItem } from '../../src/query/answer-writer.js';
import type { Page } from '../../src/store/telemetry-store.js';

const COLUMNS = ['device', 'metric', 'ts', 'value'];
const item = (ts: number): AnswerItem => ({ device: 'd', metric: 'm', ts, value: ts / 2 });

/** A node answering GET / with the pages `page` reads, streamed; its address once listening. */
async function serve(page: (cursor: string | undefined) => Promise<Page<AnswerItem>>) {
  const app = Fastify();
  app.get('/', async (_request, reply) =>
    sendStreamed(reply, { format: 'ndjson', columns: COLUMNS, meta: {}, page, cursor: undefined, gzip: false }),
  );
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

/**
 * What a client receives: the body so far, and whether the answer ended complete or was cut. `pauseMs`: the
 * client reads nothing for that long first, so the node's first chunk waits in the socket.
 */
function fetchWhole(url: string, pauseMs = 0): Promise<{ body: string; complete: boolean }> {
  return new Promise((resolve, reject) => {
    request(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      if (pauseMs > 0) {
        response.pause();
        setTimeout(() => response.resume(), pauseMs);
      }
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.once('end', () => resolve({ body, complete: response.complete }));
      response.once('error', () => resolve({ body, complete: false }));
      response.once('aborted', () => resolve({ body, complete: false }));
    })
      .once('error', reject)
      .end();
  });
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('sendStreamed', () => {
  it('reads the next page while the current one is sent, and sends every page in order', async () => {
    const asked: string[] = [];
    const { app, url } = await serve(async (cursor) => {
      asked.push(cursor ?? 'first');
      const at = cursor === undefined ? 0 : Number(cursor);
      return at < 3 ? { items: [item(at)], nextCursor: String(at + 1) } : { items: [item(at)] };
    });
    close = () => app.close();
    const { body, complete } = await fetchWhole(url);
    expect(complete).toBe(true);
    expect(
      body
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).ts),
    ).toEqual([0, 1, 2, 3]);
    expect(asked).toEqual(['first', '1', '2', '3']);
  });

  it('cuts the answer short when a page read ahead fails, and leaves no rejection unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // A first page too large for the socket's buffers: the node waits on it while the next page fails.
      const first = Array.from({ length: 100_000 }, (_, ts) => item(ts));
      const { app, url } = await serve(async (cursor) => {
        if (cursor === undefined) return { items: first, nextCursor: 'next' };
        throw new Error('the store went away');
      });
      close = () => app.close();
      const { body, complete } = await fetchWhole(url, 200);
      expect(complete).toBe(false);
      expect(body).toContain('"ts":0');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
