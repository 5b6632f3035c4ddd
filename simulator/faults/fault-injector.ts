import type { SeededRandom } from '../random/seeded-random.js';
import type { SendOutcome } from '../transport/device-link.js';
import { type ExpectedAnswer, FAULT_KINDS, type FaultKind } from './fault-kind.js';
import type { FaultPlan } from './fault-plan.js';

/** What became of the faults of one kind. */
export interface FaultTally {
  readonly injected: number;
  /** What the node must answer: an error code, or ACCEPTED for a replay. */
  readonly expected: ExpectedAnswer;
  readonly rejectedAsExpected: number;
  readonly acceptedAsExpected: number;
  /** Other answers, by code (ACCEPTED when a fault was stored, SENT when QoS 0 left it unconfirmed). */
  readonly unexpected: Readonly<Record<string, number>>;
  /** Faults that got no answer before the run ended. */
  readonly unanswered: number;
}

/** What a device can inject right now. */
export interface FaultChances {
  /** It has an acknowledged message to replay. */
  readonly canReplay: boolean;
  /** It presents a credential and the fleet issuer key is known. */
  readonly canExpireCredential: boolean;
  /** Another device's key is at hand. */
  readonly canBorrowKey: boolean;
}

interface MutableTally {
  injected: number;
  rejectedAsExpected: number;
  acceptedAsExpected: number;
  unexpected: Map<string, number>;
  unanswered: number;
}

/**
 * Decides, run-wide, when devices inject faults (each kind at its share of
 * messages, or at the first opportunities up to its count) and tallies what
 * the node answered against what it must answer.
 */
export class FaultInjector {
  readonly #plan: FaultPlan;
  readonly #tallies = new Map<FaultKind, MutableTally>();

  constructor(plan: FaultPlan) {
    this.#plan = plan;
    for (const kind of plan.keys()) {
      this.#tallies.set(kind, {
        injected: 0,
        rejectedAsExpected: 0,
        acceptedAsExpected: 0,
        unexpected: new Map(),
        unanswered: 0,
      });
    }
  }

  /** Whether any fault is planned. */
  get active(): boolean {
    return this.#plan.size > 0;
  }

  /** The fault to inject beside the device's next message, if any; counts it as injected. */
  pick(rng: SeededRandom, chances: FaultChances): FaultKind | undefined {
    for (const [kind, rate] of this.#plan) {
      if (kind === 'replay' && !chances.canReplay) continue;
      if (kind === 'expired-credential' && !chances.canExpireCredential) continue;
      if (kind === 'other-key' && !chances.canBorrowKey) continue;
      const tally = this.#tallies.get(kind);
      if (tally === undefined) continue;
      const due = 'share' in rate ? rng.chance(rate.share) : tally.injected < rate.count;
      if (due) {
        tally.injected++;
        return kind;
      }
    }
    return undefined;
  }

  /** Records the node's final answer to a fault (`undefined`: none came). */
  record(kind: FaultKind, outcome: SendOutcome | undefined): void {
    const tally = this.#tallies.get(kind);
    if (tally === undefined) return;
    const expected = FAULT_KINDS.get(kind);
    if (outcome === undefined || outcome.kind === 'retry') tally.unanswered++;
    else if (outcome.kind === 'acknowledged' && expected === 'ACCEPTED') tally.acceptedAsExpected++;
    else if (outcome.kind === 'rejected' && outcome.code === expected) tally.rejectedAsExpected++;
    else {
      const code = outcome.kind === 'rejected' ? outcome.code : outcome.kind === 'sent' ? 'SENT' : 'ACCEPTED';
      tally.unexpected.set(code, (tally.unexpected.get(code) ?? 0) + 1);
    }
  }

  /** The tallies for the report, by kind. */
  toJSON(): Record<string, FaultTally> {
    return Object.fromEntries(
      [...this.#tallies].map(([kind, t]) => [
        kind,
        {
          injected: t.injected,
          expected: FAULT_KINDS.get(kind) ?? 'ACCEPTED',
          rejectedAsExpected: t.rejectedAsExpected,
          acceptedAsExpected: t.acceptedAsExpected,
          unexpected: Object.fromEntries(t.unexpected),
          unanswered: t.unanswered,
        },
      ]),
    );
  }
}

/** What went wrong with the faults: unexpected answers, and faults never answered. */
export function faultProblems(tallies: Readonly<Record<string, FaultTally>>): string[] {
  const problems: string[] = [];
  for (const [kind, tally] of Object.entries(tallies)) {
    for (const [code, count] of Object.entries(tally.unexpected)) {
      problems.push(`${count} ${kind} fault(s) answered ${code}, expected ${tally.expected}`);
    }
    if (tally.unanswered > 0) problems.push(`${tally.unanswered} ${kind} fault(s) got no answer`);
  }
  return problems;
}
