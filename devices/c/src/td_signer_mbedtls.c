/* ES256 with mbedTLS: RFC 7518 §3.4, R || S, each a 32-byte big-endian integer. */
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "telemetry_device_mbedtls.h"

int td_mbedtls_es256_init(td_mbedtls_es256 *key, const uint8_t d[32],
                          int (*rng)(void *rng_ctx, unsigned char *out, size_t len), void *rng_ctx) {
    if (key == NULL || d == NULL || rng == NULL) return TD_ERR_INVALID_ARGUMENT;
    mbedtls_ecp_group_init(&key->group);
    mbedtls_mpi_init(&key->d);
    key->rng = rng;
    key->rng_ctx = rng_ctx;
    if (mbedtls_ecp_group_load(&key->group, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
        mbedtls_mpi_read_binary(&key->d, d, 32) != 0 || mbedtls_ecp_check_privkey(&key->group, &key->d) != 0) {
        td_mbedtls_es256_free(key);
        return TD_ERR_INVALID_ARGUMENT;
    }
    return TD_OK;
}

void td_mbedtls_es256_free(td_mbedtls_es256 *key) {
    if (key == NULL) return;
    mbedtls_mpi_free(&key->d);
    mbedtls_ecp_group_free(&key->group);
}

static int sign_es256(void *ctx, const uint8_t *input, size_t input_len, uint8_t signature[TD_SIGNATURE_BYTES]) {
    td_mbedtls_es256 *key = (td_mbedtls_es256 *)ctx;
    unsigned char hash[32];
    mbedtls_mpi r, s;
    int rc;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    rc = mbedtls_sha256(input, input_len, hash, 0);
#else
    rc = mbedtls_sha256_ret(input, input_len, hash, 0);
#endif
    if (rc != 0) return rc;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    /* Deterministic ECDSA (RFC 6979): a weak RNG on the device cannot leak the key through k. */
    rc = mbedtls_ecdsa_sign_det_ext(&key->group, &r, &s, &key->d, hash, sizeof hash, MBEDTLS_MD_SHA256, key->rng,
                                    key->rng_ctx);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&r, signature, 32);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&s, signature + 32, 32);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc;
}

td_signer td_mbedtls_es256_signer(td_mbedtls_es256 *key) {
    td_signer signer;
    signer.alg = TD_ES256;
    signer.sign = sign_es256;
    signer.ctx = key;
    return signer;
}
