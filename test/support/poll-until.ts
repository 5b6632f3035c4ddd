/** Calls `check` until it returns true, failing with `what` once `timeoutMs` have passed. */
export async function pollUntil(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
  /** What to add to the failure, such as a child process's output so far. */
  describe?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const detail = describe === undefined ? '' : `\n${describe()}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`, { cause: lastError });
}
