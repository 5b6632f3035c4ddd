import { describe, expect, it } from 'vitest';
import { CredentialKeySource } from '../../src/identity/credential-key-source.js';
import { DeviceKeys, MESSAGE_TYP, signMessage, signPayload, verifyMessage } from '../../src/index.js';
import { makeIssuer, registryOf } from '../support/devices.js';
import { alice, b64, bob, deps, edna, NOW, reading, rejection, useDevices } from './verify-message-support.js';

useDevices();

describe('verifyMessage', () => {
  it('accepts an ES256 message from a registered device and returns its readings', async () => {
    const jws = await signMessage(alice.signer, 7, [reading({ temperature: 21.5, humidity: 40 })]);
    const message = await verifyMessage(jws, deps);
    expect(message).toEqual({
      device: 'alice',
      seq: 7,
      kid: 'alice.k1',
      alg: 'ES256',
      keySource: 'registry',
      readings: [{ device: 'alice', ts: NOW - 1000, values: { temperature: 21.5, humidity: 40 } }],
    });
  });

  it('accepts an EdDSA message given as bytes', async () => {
    const jws = await signMessage(edna.signer, 0, [reading(), reading({ temperature: 22 }, NOW - 2000)]);
    const message = await verifyMessage(new TextEncoder().encode(jws), deps);
    expect(message.alg).toBe('EdDSA');
    expect(message.readings).toHaveLength(2);
  });

  it('verifies bytes with whitespace around them, inside a larger buffer, over exactly the signed bytes', async () => {
    const jws = await signMessage(alice.signer, 8, [reading()]);
    const frame = Buffer.from(`xx \r\n${jws}\n yy`);
    const message = await verifyMessage(frame.subarray(2, frame.length - 2), deps);
    expect(message.seq).toBe(8);
    // One payload byte changed fails the signature, so the signature covered the bytes inside the frame.
    const tampered = Buffer.from(frame);
    const at = tampered.indexOf('.') + 5;
    tampered[at] = tampered[at] === 0x41 ? 0x42 : 0x41;
    await expect(verifyMessage(tampered.subarray(2, tampered.length - 2), deps)).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    });
  });

  it("rejects a valid signature by another registered device's key", async () => {
    const jws = await signPayload(bob.signer, { v: 1, device: 'alice', seq: 1, readings: [reading()] });
    expect(await rejection(jws)).toBe('ERR_DEVICE_MISMATCH');
  });

  it("rejects bob's key presented under alice's kid", async () => {
    const jws = await signPayload(
      bob.signer,
      { v: 1, device: 'alice', seq: 1, readings: [reading()] },
      {
        alg: 'ES256',
        typ: MESSAGE_TYP,
        kid: 'alice.k1',
      },
    );
    expect(await rejection(jws)).toBe('ERR_SIGNATURE_INVALID');
  });

  it('rejects a tampered payload', async () => {
    const jws = await signMessage(alice.signer, 1, [reading({ temperature: 21.5 })]);
    const [h, , s] = jws.split('.');
    const forged = b64({ v: 1, device: 'alice', seq: 1, readings: [reading({ temperature: 99 })] });
    expect(await rejection(`${h}.${forged}.${s}`)).toBe('ERR_SIGNATURE_INVALID');
  });

  it('rejects a truncated signature', async () => {
    const jws = await signMessage(alice.signer, 1, [reading()]);
    expect(await rejection(jws.slice(0, -10))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('rejects an unknown kid', async () => {
    const jws = await signPayload(
      alice.signer,
      { v: 1, device: 'alice', seq: 1, readings: [reading()] },
      {
        alg: 'ES256',
        typ: MESSAGE_TYP,
        kid: 'mallory.k1',
      },
    );
    expect(await rejection(jws)).toBe('ERR_UNKNOWN_KEY');
  });

  it('rejects a message whose payload names another device than the transport expects', async () => {
    const jws = await signMessage(alice.signer, 1, [reading()]);
    expect(await rejection(jws, { expectedDevice: 'bob' })).toBe('ERR_DEVICE_MISMATCH');
    await expect(verifyMessage(jws, deps, { expectedDevice: 'alice' })).resolves.toMatchObject({ device: 'alice' });
  });

  it('stops accepting a key once a refreshed registry no longer lists it', async () => {
    let registry = registryOf(alice, bob);
    const live = { ...deps, keys: new DeviceKeys({ registry: () => registry }) };
    const jws = await signMessage(alice.signer, 1, [reading()]);
    await expect(verifyMessage(jws, live)).resolves.toMatchObject({ device: 'alice' });
    registry = registryOf(bob);
    expect(await rejection(jws, {}, live)).toBe('ERR_UNKNOWN_KEY');
  });
});

describe('verifyMessage with device credentials', () => {
  it('accepts a message carrying a credential from a trusted issuer, with no registry at all', async () => {
    const issuer = await makeIssuer('EdDSA');
    const keys = new DeviceKeys({
      credentials: new CredentialKeySource({ issuers: () => issuer.issuers, clockSkewSeconds: 30 }),
    });
    const signer = await issuer.credentialed(alice, NOW);
    const message = await verifyMessage(await signMessage(signer, 3, [reading()]), { ...deps, keys });
    expect(message).toMatchObject({ device: 'alice', seq: 3, keySource: 'credential' });
  });

  it('rejects an expired credential and one not valid yet, allowing the configured skew', async () => {
    const issuer = await makeIssuer();
    const keys = new DeviceKeys({
      credentials: new CredentialKeySource({ issuers: () => issuer.issuers, clockSkewSeconds: 30 }),
    });
    const expired = await issuer.credentialed(alice, NOW - 7200_000, 3600);
    const future = await issuer.credentialed(alice, NOW + 600_000, 3600);
    const justExpired = await issuer.credentialed(alice, NOW - 3620_000, 3600);
    const payload = (ts: number) => ({ v: 1, device: 'alice', seq: 1, readings: [reading({ t: 1 }, ts)] });
    expect(await rejection(await signPayload(expired, payload(NOW)), {}, { ...deps, keys })).toBe(
      'ERR_CREDENTIAL_EXPIRED',
    );
    expect(await rejection(await signPayload(future, payload(NOW)), {}, { ...deps, keys })).toBe(
      'ERR_CREDENTIAL_EXPIRED',
    );
    await expect(verifyMessage(await signPayload(justExpired, payload(NOW)), { ...deps, keys })).resolves.toBeDefined();
  });

  it('rejects a credential from an untrusted issuer, and one naming another device', async () => {
    const trusted = await makeIssuer('ES256', 'fleet.a');
    const rogue = await makeIssuer('ES256', 'fleet.b');
    const keys = new DeviceKeys({
      credentials: new CredentialKeySource({ issuers: () => trusted.issuers, clockSkewSeconds: 0 }),
    });
    const rogueSigner = await rogue.credentialed(alice, NOW);
    expect(await rejection(await signMessage(rogueSigner, 1, [reading()]), {}, { ...deps, keys })).toBe(
      'ERR_CREDENTIAL_INVALID',
    );
    // bob holds a genuine credential for himself and claims to be alice.
    const bobSigner = await trusted.credentialed(bob, NOW);
    const claim = await signPayload(bobSigner, { v: 1, device: 'alice', seq: 1, readings: [reading()] });
    expect(await rejection(claim, {}, { ...deps, keys })).toBe('ERR_DEVICE_MISMATCH');
  });

  it('rejects a credential on a node that trusts no issuer', async () => {
    const issuer = await makeIssuer();
    const signer = await issuer.credentialed(alice, NOW);
    expect(await rejection(await signMessage(signer, 1, [reading()]))).toBe('ERR_CREDENTIAL_INVALID');
  });
});
