/*
 * An EdDSA (Ed25519, RFC 8037) signer over libsodium. Call sodium_init() once at start-up, as
 * libsodium requires. Link with -lsodium.
 */
#ifndef TELEMETRY_DEVICE_SODIUM_H
#define TELEMETRY_DEVICE_SODIUM_H

#include "telemetry_device.h"

#ifdef __cplusplus
extern "C" {
#endif

/** libsodium's 64-byte secret key: the 32-byte seed followed by the public key. */
typedef struct td_sodium_ed25519 {
    unsigned char secret_key[64];
} td_sodium_ed25519;

/** Loads the 32-byte seed (a JWK's "d", base64url-decoded). */
int td_sodium_ed25519_init(td_sodium_ed25519 *key, const uint8_t seed[32]);
/** Wipes the key. */
void td_sodium_ed25519_free(td_sodium_ed25519 *key);
/** A td_signer that signs with `key` (which must outlive it). */
td_signer td_sodium_ed25519_signer(td_sodium_ed25519 *key);

#ifdef __cplusplus
}
#endif

#endif
