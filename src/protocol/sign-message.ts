import { type CompactJWSHeaderParameters, CompactSign } from 'jose';
import type { DeviceSigner } from './device-signer.js';
import type { TelemetryPayload, WireReading } from './message.js';
import { CREDENTIAL_HEADER, MESSAGE_TYP, PROTOCOL_VERSION } from './wire-types.js';

const encoder = new TextEncoder();

/** The protected header a device puts on everything it signs. */
export function deviceHeader(signer: DeviceSigner, typ: string): CompactJWSHeaderParameters {
  const header: CompactJWSHeaderParameters = { alg: signer.alg, typ };
  if (signer.credential !== undefined) header[CREDENTIAL_HEADER] = signer.credential;
  else if (signer.kid !== undefined) header.kid = signer.kid;
  return header;
}

/**
 * Signs readings as one telemetry message (compact JWS) — what a device sends.
 *
 * @example
 * const jws = await signMessage(signer, 7, [{ ts: Date.now(), values: { temperature: 21.5 } }]);
 * await fetch(`${node}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/jose' }, body: jws });
 */
export function signMessage(signer: DeviceSigner, seq: number, readings: readonly WireReading[]): Promise<string> {
  const payload: TelemetryPayload = { v: PROTOCOL_VERSION, device: signer.device, seq, readings };
  return signPayload(signer, payload);
}

/** Signs any payload as a telemetry message; tests and the simulator use it to build faulty messages on purpose. */
export function signPayload(
  signer: DeviceSigner,
  payload: unknown,
  header?: CompactJWSHeaderParameters,
): Promise<string> {
  const bytes = encoder.encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return new CompactSign(bytes).setProtectedHeader(header ?? deviceHeader(signer, MESSAGE_TYP)).sign(signer.privateKey);
}
