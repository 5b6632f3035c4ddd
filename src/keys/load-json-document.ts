import { readFile } from 'node:fs/promises';

/** Where a JSON document (a JWKS) lives: a file path, or an https URL (http only on loopback). */
export type DocumentLocation = string;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether `location` is a URL this service may fetch keys from. */
export function isFetchableUrl(location: string): boolean {
  if (!/^https?:\/\//i.test(location)) return false;
  const url = new URL(location);
  return url.protocol === 'https:' || LOOPBACK_HOSTS.has(url.hostname);
}

/** Describes why `location` cannot serve as a document location, or undefined. */
export function documentLocationProblem(location: string): string | undefined {
  if (/^https?:\/\//i.test(location)) {
    try {
      if (!isFetchableUrl(location)) return 'must be an https URL (plain http only on loopback)';
    } catch {
      return 'is not a valid URL';
    }
  }
  return undefined;
}

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
