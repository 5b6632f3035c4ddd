import { createServer, type Server, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { TelemetryError } from '../../src/errors.js';
import { AnswerTooLargeError, InfluxHttp } from '../../src/store/influx-http.js';

/** A real HTTP server on 127.0.0.1 that answers every GET with `answer`. */
async function answeringServer(answer: (response: ServerResponse) => void, timeoutMs = 2_000) {
  const server: Server = createServer((request, response) => {
    request.resume();
    answer(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  servers.push(server);
  return new InfluxHttp({ url: `http://127.0.0.1:${port}`, timeoutMs });
}

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** JSON lines as VictoriaMetrics exports them, `count` of them. */
function exportLines(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(
      `{"metric":{"__name__":"m_v","device":"d-${i}"},"values":[${i / 7}],"timestamps":[${1_764_000_000_000 + i}]}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Writes `body` in pieces of `size` bytes, each in its own turn of the event loop. */
function inPieces(response: ServerResponse, body: Buffer, size: number): void {
  let offset = 0;
  const next = () => {
    if (offset >= body.length) return void response.end();
    response.write(body.subarray(offset, offset + size));
    offset += size;
    setImmediate(next);
  };
  next();
}

describe('InfluxHttp reading answers', () => {
  const text = exportLines(40_000);

  it('returns a text answer sent in hundreds of pieces whole, byte for byte', async () => {
    const body = Buffer.from(text);
    const http = await answeringServer((response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      inPieces(response, body, 8_192);
    });
    expect(body.length).toBeGreaterThan(3_000_000);
    expect(await http.getText('/api/v1/export')).toBe(text);
  });

  it('returns a gzipped answer decoded, whole', async () => {
    const body = gzipSync(text);
    const http = await answeringServer((response) => {
      response.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      inPieces(response, body, 4_096);
    });
    expect(await http.getText('/api/v1/export')).toBe(text);
  });

  it.each([
    ['in one piece', 1_000_000],
    ['in hundreds of pieces', 8_192],
  ] as const)('stops reading a text answer longer than it may be, sent %s, and says so', async (_, piece) => {
    const body = Buffer.from(text);
    const http = await answeringServer((response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      inPieces(response, body.subarray(0, 600_000), piece);
    });
    const error = await http.getText('/api/v1/export', 100_000).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AnswerTooLargeError);
    expect((error as AnswerTooLargeError).code).toBe('ERR_ANSWER_TOO_LARGE');
    // Within the limit, the same answer is read whole, and the client is still usable after the refusal.
    expect(await http.getText('/api/v1/export', 600_000)).toBe(text.slice(0, 600_000));
  });

  it('parses a JSON answer, and gives undefined for an empty one', async () => {
    const document = { status: 'success', data: { result: [{ value: [1, '2.5'] }] } };
    const json = await answeringServer((response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(document));
    });
    expect(await json.getJson('/api/v1/query')).toEqual(document);
    const empty = await answeringServer((response) => {
      response.writeHead(204);
      response.end();
    });
    expect(await empty.getJson('/api/v1/query')).toBeUndefined();
  });

  it('rejects an answer that is not JSON as a store fault, ERR_STORE_UNAVAILABLE', async () => {
    const http = await answeringServer((response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('<html>proxy error</html>');
    });
    const error = await http.getJson('/api/v1/query').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TelemetryError);
    expect((error as TelemetryError).code).toBe('ERR_STORE_UNAVAILABLE');
  });

  it.each([
    [400, 'ERR_STORE_REJECTED'],
    [503, 'ERR_STORE_UNAVAILABLE'],
  ] as const)('rejects an answer with HTTP %i as %s', async (status, code) => {
    const http = await answeringServer((response) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end('{"error":"no"}');
    });
    const error = await http.getText('/api/v1/export').catch((caught: unknown) => caught);
    expect((error as TelemetryError).code).toBe(code);
  });

  it('rejects an answer that starts but never ends within timeoutMs as ERR_STORE_UNAVAILABLE', async () => {
    const http = await answeringServer((response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('{"metric":');
    }, 200);
    const error = await http.getText('/api/v1/export').catch((caught: unknown) => caught);
    expect((error as TelemetryError).code).toBe('ERR_STORE_UNAVAILABLE');
  });
});
