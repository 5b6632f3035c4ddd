import type { JWK } from 'jose';
import { type DeviceSigner, issueCredential, signMessage, signPayload } from '../../src/index.js';
import { FAULT_PROBE_METRIC, FAULT_PROBE_VALUE, type FaultKind } from './fault-kind.js';

/** What a device knows when it builds a faulty message. */
export interface FaultContext {
  readonly signer: DeviceSigner;
  readonly seq: number;
  /** The device's clock, ms since the epoch. */
  readonly now: number;
  /** Another device of the fleet (for `other-key`). */
  readonly other?: DeviceSigner;
  /** The fleet issuer's private key (for `expired-credential`). */
  readonly issuerKey?: JWK;
  /** The node's message size limit (for `oversized`). */
  readonly maxMessageBytes: number;
}

const probe = (ts: number) => [{ ts, values: { [FAULT_PROBE_METRIC]: FAULT_PROBE_VALUE } }];

/** Changes one character in the middle of the signature, keeping it valid base64url. */
function corruptSignature(jws: string): string {
  const dot = jws.lastIndexOf('.');
  const at = dot + 10;
  const replacement = jws[at] === 'A' ? 'B' : 'A';
  return `${jws.slice(0, at)}${replacement}${jws.slice(at + 1)}`;
}

/** The device key a credential binds (`cnf.jwk`, RFC 7800), read from its payload. */
function credentialKey(credential: string): JWK {
  const payload = JSON.parse(Buffer.from(credential.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    cnf?: { jwk?: JWK };
  };
  if (payload.cnf?.jwk === undefined) throw new TypeError('the credential binds no key');
  return payload.cnf.jwk;
}

/** A credential for the same device and key that expired ten minutes ago (beyond any clock skew). */
async function expiredCredential(ctx: FaultContext): Promise<string> {
  const { signer, issuerKey } = ctx;
  if (signer.credential === undefined || issuerKey === undefined) throw new TypeError('no credential to expire');
  return issueCredential({
    issuerKey,
    device: signer.device,
    deviceKey: credentialKey(signer.credential),
    lifetimeSeconds: 60,
    issuer: 'telemetry-simulator',
    now: ctx.now - 11 * 60_000,
  });
}

/**
 * Builds the message of one fault kind (not `replay`, which resends real
 * bytes). Every reading in it is a fault probe, so an audit can prove none
 * was stored.
 */
export async function buildFaultMessage(kind: Exclude<FaultKind, 'replay'>, ctx: FaultContext): Promise<string> {
  const { signer, seq, now } = ctx;
  const payload = { v: 1, device: signer.device, seq, readings: probe(now) };
  switch (kind) {
    case 'bad-signature':
      return corruptSignature(await signMessage(signer, seq, probe(now)));
    case 'other-key':
      if (ctx.other === undefined) throw new TypeError('no other device to borrow a key from');
      return signPayload(ctx.other, payload);
    case 'malformed':
      return signPayload(signer, JSON.stringify(payload).slice(0, -2));
    case 'oversized':
      // Valid JSON padded with whitespace: only its size is wrong.
      return signPayload(signer, `${JSON.stringify(payload)}${' '.repeat(ctx.maxMessageBytes)}`);
    case 'seconds':
      return signMessage(signer, seq, probe(Math.floor(now / 1000)));
    case 'expired-credential':
      return signMessage({ ...signer, credential: await expiredCredential(ctx) }, seq, probe(now));
  }
}
