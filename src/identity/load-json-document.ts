import { readFile } from 'node:fs/promises';
import { type DocumentLocation, isFetchableUrl } from '../config/document-location.js';

/** Reads and parses a JSON document from a file or URL. Rejects on I/O, HTTP or JSON errors. */
export async function loadJsonDocument(location: DocumentLocation, timeoutMs = 10_000): Promise<unknown> {
  if (isFetchableUrl(location)) {
    const response = await fetch(location, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/jwk-set+json, application/json' },
      redirect: 'error',
    });
    if (!response.ok) throw new Error(`GET ${location} answered HTTP ${response.status}`);
    return (await response.json()) as unknown;
  }
  return JSON.parse(await readFile(location, 'utf8')) as unknown;
}
