/**
 * What the core logs through: a pino logger fits. Fields are structured (the
 * device id, an error code, a count), never a token, a key or a payload.
 */
export interface NodeLog {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** An error as a log field: its code and its messages down the cause chain (ours never quote a secret). */
export function errorField(error: unknown): { code?: string; message: string } {
  const messages: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    messages.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return { ...(typeof code === 'string' ? { code } : {}), message: messages.join(': ') };
}
