/* EdDSA with libsodium: Ed25519 over the signing input itself, no pre-hash (RFC 8037). */
#include <sodium.h>

#include "telemetry_device_sodium.h"

int td_sodium_ed25519_init(td_sodium_ed25519 *key, const uint8_t seed[32]) {
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    if (key == NULL || seed == NULL) return TD_ERR_INVALID_ARGUMENT;
    if (crypto_sign_seed_keypair(public_key, key->secret_key, seed) != 0) return TD_ERR_INVALID_ARGUMENT;
    return TD_OK;
}

void td_sodium_ed25519_free(td_sodium_ed25519 *key) {
    if (key != NULL) sodium_memzero(key->secret_key, sizeof key->secret_key);
}

static int sign_ed25519(void *ctx, const uint8_t *input, size_t input_len, uint8_t signature[TD_SIGNATURE_BYTES]) {
    td_sodium_ed25519 *key = (td_sodium_ed25519 *)ctx;
    return crypto_sign_detached(signature, NULL, input, input_len, key->secret_key);
}

td_signer td_sodium_ed25519_signer(td_sodium_ed25519 *key) {
    td_signer signer;
    signer.alg = TD_EDDSA;
    signer.sign = sign_ed25519;
    signer.ctx = key;
    return signer;
}
