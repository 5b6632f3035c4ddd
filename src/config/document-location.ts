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
