import { type BackoffPolicy, type DeviceSigner, retryDelay } from '../../src/index.js';
import type { FaultKind } from '../faults/fault-kind.js';
import { buildFaultMessage } from '../faults/fault-message.js';
import type { DeviceLink, OutgoingMessage, SendOutcome } from '../transport/device-link.js';
import type { DeviceFaults } from './device-options.js';

/** Attempts at getting a fault answered before it counts as unanswered. */
const FAULT_ATTEMPTS = 20;

/** What injecting a fault reads of its device, at the moment it needs it. */
export interface FaultHost {
  readonly signer: DeviceSigner;
  readonly link: DeviceLink;
  readonly backoff: BackoffPolicy;
  readonly now: () => number;
  /** The last real message the node acknowledged, to replay. */
  lastAcknowledged(): OutgoingMessage | undefined;
  /** Takes the device's next seq. */
  nextSeq(): number;
  /** Whether the device is online (not only whether its link is ready). */
  online(): boolean;
  stopped(): boolean;
}

/** Which fault to inject beside the next real message, if any. */
export function pickFault(faults: DeviceFaults, host: FaultHost): FaultKind | undefined {
  return faults.injector.pick(faults.rng, {
    canReplay: host.lastAcknowledged() !== undefined,
    canExpireCredential: host.signer.credential !== undefined && faults.context.issuerKey !== undefined,
    canBorrowKey: faults.context.other !== undefined,
  });
}

/**
 * Builds the fault `kind` and sends it until it is answered (backing off while
 * the device is offline or told to retry); undefined when it never was.
 */
export async function sendFault(
  kind: FaultKind,
  faults: DeviceFaults,
  host: FaultHost,
): Promise<SendOutcome | undefined> {
  let message: OutgoingMessage;
  if (kind === 'replay') {
    const replayed = host.lastAcknowledged();
    if (replayed === undefined) return undefined;
    message = { seq: replayed.seq, jws: replayed.jws, first: -1, last: -1 };
  } else {
    const seq = host.nextSeq();
    const context = { ...faults.context, signer: host.signer, seq, now: host.now() };
    message = { seq, jws: await buildFaultMessage(kind, context), first: -1, last: -1, probe: true };
  }
  for (let attempt = 1; attempt <= FAULT_ATTEMPTS && !host.stopped(); attempt++) {
    if (host.online() && host.link.ready) {
      const outcome = await host.link.send(message);
      if (outcome.kind !== 'retry') return outcome;
    }
    const delay = retryDelay(attempt, host.backoff, faults.rng);
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
  }
  return undefined;
}
