/**
 * The JSON body of an end-to-end acknowledgement on `devices/{device}/acks`
 * (docs/PROTOCOL.md §10.3): the seq of each of the device's messages whose
 * readings the store accepted. One acknowledgement may cover several messages.
 */
export interface DeliveryAck {
  readonly seqs: readonly number[];
}

/**
 * The bytes of an acknowledgement for `seqs`.
 *
 * @example
 * encodeDeliveryAck([12, 13]); // '{"seqs":[12,13]}'
 */
export function encodeDeliveryAck(seqs: readonly number[]): string {
  return JSON.stringify({ seqs });
}

/**
 * Reads an acknowledgement as a device does: a JSON object whose `seqs` is an
 * array of integers; anything else is undefined (and ignored by the device).
 * Members other than `seqs` are ignored, so later versions can add some.
 */
export function parseDeliveryAck(payload: Uint8Array | string): DeliveryAck | undefined {
  let body: unknown;
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || !('seqs' in body) || !Array.isArray(body.seqs)) return undefined;
  const seqs: unknown[] = body.seqs;
  return seqs.every((seq) => Number.isSafeInteger(seq) && (seq as number) >= 0)
    ? { seqs: seqs as number[] }
    : undefined;
}
