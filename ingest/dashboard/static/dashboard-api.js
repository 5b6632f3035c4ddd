// The query API as the page uses it: every request carries the operator token
// from sessionStorage as a Bearer header (never in the URL), and errors keep
// the node's stable code.

const TOKEN_KEY = 'telemetry.operatorToken';

/** The token pasted in this tab, or '' (sessionStorage: gone when the tab closes). */
export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * What a token says about itself (subject, scope, expiry), read without
 * verifying it: only to show the operator which token is in use.
 */
export function describeToken(token) {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json);
    return {
      subject: typeof claims.sub === 'string' ? claims.sub : undefined,
      scope: typeof claims.scope === 'string' ? claims.scope : undefined,
      expires: typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : undefined,
    };
  } catch {
    return undefined;
  }
}

/** A refused or failed query: the HTTP status and the node's error code. */
export class QueryError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET /v1/query/<path> with `params` (arrays repeat the parameter); resolves with the JSON answer. */
export async function query(path, params = {}) {
  const token = storedToken();
  if (token === '') throw new QueryError(0, 'NO_TOKEN', 'no operator token');
  // Relative to the page (/dashboard/), so the page also works behind a path prefix.
  const url = new URL(`../v1/query/${path}`, document.baseURI);
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
  }
  let response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
  } catch (cause) {
    throw new QueryError(0, 'NETWORK', `the node could not be reached (${cause.message})`);
  }
  if (!response.ok) {
    const body = await response.json().catch(() => undefined);
    const error = body?.error;
    throw new QueryError(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? response.statusText,
    );
  }
  return response.json();
}

/** Follows `nextCursor` until the last page or `maxItems`; resolves with all items and whether it stopped early. */
export async function queryAll(path, params, maxItems) {
  const items = [];
  let cursor;
  do {
    const page = await query(path, cursor === undefined ? params : { ...params, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && items.length < maxItems);
  return { items, truncated: cursor !== undefined };
}
