/*
 * A signer on Linux from a JWK's "d" (base64url): mbedTLS for ES256, libsodium for EdDSA, with
 * libsodium's RNG for mbedTLS's blinding. Shared by the example device and the vector tool.
 */
#ifndef LINUX_SIGNER_H
#define LINUX_SIGNER_H

#include <string.h>

#include <sodium.h>

#include "telemetry_device.h"
#include "telemetry_device_mbedtls.h"
#include "telemetry_device_sodium.h"

typedef struct linux_key {
    td_mbedtls_es256 es256;
    td_sodium_ed25519 ed25519;
    td_signer signer;
} linux_key;

static int linux_rng(void *ctx, unsigned char *out, size_t len) {
    (void)ctx;
    randombytes_buf(out, len);
    return 0;
}

/* Loads `d` for `alg` ("ES256" or "EdDSA"); returns TD_OK or an error code. */
static int linux_key_load(linux_key *key, const char *alg, const char *d_b64url) {
    uint8_t d[32];
    size_t n;
    int rc;
    if (sodium_init() < 0) return TD_ERR_SIGN;
    rc = td_base64url_decode(d_b64url, strlen(d_b64url), d, sizeof d, &n);
    if (rc != TD_OK) return rc;
    if (n != 32) return TD_ERR_INVALID_ARGUMENT;
    if (strcmp(alg, "ES256") == 0) {
        rc = td_mbedtls_es256_init(&key->es256, d, linux_rng, NULL);
        key->signer = td_mbedtls_es256_signer(&key->es256);
    } else if (strcmp(alg, "EdDSA") == 0) {
        rc = td_sodium_ed25519_init(&key->ed25519, d);
        key->signer = td_sodium_ed25519_signer(&key->ed25519);
    } else {
        rc = TD_ERR_INVALID_ARGUMENT;
    }
    sodium_memzero(d, sizeof d);
    return rc;
}

static void linux_key_free(linux_key *key) {
    if (key->signer.alg == TD_ES256) {
        td_mbedtls_es256_free(&key->es256);
    } else {
        td_sodium_ed25519_free(&key->ed25519);
    }
}

#endif
