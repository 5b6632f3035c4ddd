/*
 * An ES256 signer over mbedTLS (2.28 and 3.x): deterministic ECDSA P-256 (RFC 6979) over SHA-256,
 * the signature written as the raw R || S the protocol needs. Link with -lmbedcrypto.
 */
#ifndef TELEMETRY_DEVICE_MBEDTLS_H
#define TELEMETRY_DEVICE_MBEDTLS_H

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>

#include "telemetry_device.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The device's P-256 private key, and the RNG mbedTLS uses to blind the computation. */
typedef struct td_mbedtls_es256 {
    mbedtls_ecp_group group;
    mbedtls_mpi d;
    int (*rng)(void *rng_ctx, unsigned char *out, size_t len);
    void *rng_ctx;
} td_mbedtls_es256;

/**
 * Loads the 32-byte private scalar `d` (a JWK's "d", base64url-decoded). `rng` is the platform's
 * random source (mbedtls_ctr_drbg_random with its context, esp_fill_random wrapped, ...).
 * Returns TD_OK, or TD_ERR_INVALID_ARGUMENT when `d` is not a valid P-256 key.
 */
int td_mbedtls_es256_init(td_mbedtls_es256 *key, const uint8_t d[32],
                          int (*rng)(void *rng_ctx, unsigned char *out, size_t len), void *rng_ctx);
/** Frees mbedTLS's numbers and wipes the key. */
void td_mbedtls_es256_free(td_mbedtls_es256 *key);
/** A td_signer that signs with `key` (which must outlive it). */
td_signer td_mbedtls_es256_signer(td_mbedtls_es256 *key);

#ifdef __cplusplus
}
#endif

#endif
