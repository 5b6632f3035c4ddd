/**
 * What an HTTP answer must be for a row of docs/PROTOCOL.md §11: its status, the body
 * `{error: {code, message, retryable}}`, and Retry-After exactly when the row says a retry can succeed.
 */
import { connect } from 'node:net';
import { expect } from 'vitest';
import type { ErrorRow } from './error-table.js';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>;
  readonly body: string;
}

export function expectErrorAnswer(answer: HttpAnswer, row: ErrorRow): void {
  expect({ status: answer.status, body: JSON.parse(answer.body) }).toEqual({
    status: row.status,
    body: { error: { code: row.code, message: expect.any(String), retryable: row.retryable } },
  });
  if (row.retryable) expect(String(answer.headers['retry-after'])).toMatch(/^\d+$/);
  else expect(answer.headers['retry-after']).toBeUndefined();
}

/** A batch answer whose only result is the message refused with the row's code. */
export function expectRejectedEntry(answer: HttpAnswer, row: ErrorRow): void {
  expect({ status: answer.status, body: JSON.parse(answer.body) }).toEqual({
    status: 200,
    body: { results: [{ status: 'rejected', code: row.code, message: expect.any(String), retryable: row.retryable }] },
  });
}

/**
 * Sends `head` and the first bytes of a body on a raw connection to `port`, then nothing more, and resolves with
 * what the node answers before it closes the connection.
 */
export function stalledRequest(port: number, head: string, partialBody: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n\r\n${partialBody}`));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString();
      const [top = '', body = ''] = text.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = top.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
  });
}
