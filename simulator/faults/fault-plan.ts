import { type FaultKind, isFaultKind } from './fault-kind.js';

/** How often one fault kind is injected: a share of messages (0–1), or a fixed count over the run. */
export type FaultRate = { readonly share: number } | { readonly count: number };

/** Which faults a run injects. */
export type FaultPlan = ReadonlyMap<FaultKind, FaultRate>;

/** Raised for a `--faults` value that cannot be read; the message lists every problem. */
export class FaultPlanError extends Error {
  override readonly name = 'FaultPlanError';
}

/**
 * Reads `kind=amount,...`: an amount below 1 with a decimal point is a share
 * of messages (`replay=0.01`), a whole number is a count over the run
 * (`oversized=3`, injected at the first opportunities).
 *
 * @example
 * parseFaultPlan('bad-signature=0.01,seconds=5');
 * // Map { 'bad-signature' => { share: 0.01 }, 'seconds' => { count: 5 } }
 */
export function parseFaultPlan(text: string): FaultPlan {
  const plan = new Map<FaultKind, FaultRate>();
  const problems: string[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const [kind = '', amount = '', ...rest] = part.split('=');
    if (!isFaultKind(kind)) problems.push(`unknown fault kind ${JSON.stringify(kind)}`);
    else if (rest.length > 0 || !/^\d+(\.\d+)?$/.test(amount)) problems.push(`${kind} needs =SHARE or =COUNT`);
    else if (amount.includes('.')) {
      const share = Number(amount);
      if (share > 1) problems.push(`${kind}: a share must be from 0 to 1`);
      else plan.set(kind, { share });
    } else plan.set(kind, { count: Number(amount) });
  }
  if (problems.length > 0) throw new FaultPlanError(problems.join('; '));
  return plan;
}
