import { readFile } from 'node:fs/promises';
import { type DocumentLocation, isFetchableUrl } from '../config/document-location.js';

/** How long a key set URL may take to answer, by default. */
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Reads and parses a JSON document from a file or URL. Rejects on I/O, HTTP or
 * JSON errors with an Error whose message says what went wrong in words an
 * operator can act on ("no such file", "connection refused", "answered HTTP
 * 404", "not valid JSON"), without the location (the caller names it with its
 * setting) and never quoting the document: a JSON syntax error's own message
 * would. The library's error is the `cause`.
 */
export async function loadJsonDocument(location: DocumentLocation, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
  if (isFetchableUrl(location)) return fetchJson(location, timeoutMs);
  let text: string;
  try {
    text = await readFile(location, 'utf8');
  } catch (error) {
    throw new Error(fileFailure(error), { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error('not valid JSON', { cause: error });
  }
}

async function fetchJson(url: string, timeoutMs: number): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/jwk-set+json, application/json' },
      redirect: 'error',
    });
  } catch (error) {
    throw new Error(fetchFailure(error, timeoutMs), { cause: error });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`answered HTTP ${response.status}`);
  }
  try {
    return (await response.json()) as unknown;
  } catch (error) {
    throw new Error('the answer is not valid JSON', { cause: error });
  }
}

/** Why a file could not be read, by its error code. */
function fileFailure(error: unknown): string {
  const code = codeOf(error);
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder, not a file';
  if (code === 'ENOTDIR') return 'a folder on its path is a file';
  return `cannot read the file (${code ?? 'unexpected failure'})`;
}

/** Why a fetch failed, by the error codes of undici's error and its cause. */
function fetchFailure(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = codeOf((error as { cause?: unknown } | null)?.cause) ?? codeOf(error);
  if (code === 'ECONNREFUSED') return 'nothing answers there (connection refused)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was closed before an answer';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return `no connection within ${timeoutMs / 1000} s`;
  if (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return `its TLS certificate is not trusted (${code})`;
  }
  const cause = (error as { cause?: unknown } | null)?.cause;
  return `the request failed (${code ?? (cause instanceof Error ? cause.message : 'unexpected failure')})`;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
