import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A node's answer to one GET: its status, status text and body parsed as JSON (undefined when it is not JSON). */
export interface JsonAnswer {
  readonly status: number;
  readonly statusText: string;
  readonly body: unknown;
}

/**
 * GETs `url` with `headers` over node:http(s). Not fetch(): its first request compiles undici's WASM
 * HTTP parser, which cost `telemetry query` more CPU than all the rest of it.
 *
 * @throws the request's error (its `code`: ECONNREFUSED, ENOTFOUND, …) when no answer came.
 */
export function getJson(url: URL, headers: Readonly<Record<string, string>>): Promise<JsonAnswer> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: 'GET', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        resolve({ status: response.statusCode ?? 0, statusText: response.statusMessage ?? '', body });
      });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}
