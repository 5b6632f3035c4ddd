/*
 * Unit tests of the library, with literal inputs from docs/PROTOCOL.md and test/vectors.
 * `make test` runs them; test/devices/c-library.test.ts runs them again under ASan and UBSan.
 * Buffers come from malloc at their exact size so the sanitizers see any write past them.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "telemetry_device.h"
#include "telemetry_device_mbedtls.h"
#include "telemetry_device_sodium.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                                                \
    do {                                                                                                           \
        checks++;                                                                                                  \
        if (!(cond)) {                                                                                             \
            failures++;                                                                                            \
            fprintf(stderr, "  FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);                                     \
        }                                                                                                          \
    } while (0)
#define CHECK_RC(call, expected) CHECK((call) == (expected))
#define CHECK_STR(actual, expected) CHECK(strcmp((actual), (expected)) == 0)

static void run(const char *sentence, void (*test)(void)) {
    int before = failures;
    test();
    printf("%s %s\n", failures == before ? "ok  " : "FAIL", sentence);
}

/* ------------------------------------------------------------------ fixtures from test/vectors/messages.json */

static const char EDDSA_SEED_B64[] = "h8q9bW_sGIzfwXvFrey08MlD1OgZx6Fm9yDwdeuANik";
static const char ES256_D_B64[] = "XV1YI9qM7g5ASVO_hfXAmxEwKii2G9Dk-JFDG9CUfEI";
/* "valid EdDSA message with two readings": Ed25519 is deterministic, so our bytes must be these. */
static const char EDDSA_VECTOR[] =
    "eyJhbGciOiJFZERTQSIsInR5cCI6InRlbGVtZXRyeStqd3MiLCJraWQiOiJzZW5zb3ItZWRkc2EuazEifQ."
    "eyJ2IjoxLCJkZXZpY2UiOiJzZW5zb3ItZWRkc2EiLCJzZXEiOjIsInJlYWRpbmdzIjpbeyJ0cyI6MTc5NTg2NzE0MDAwMCwidmFsdWVzIjp7ImJh"
    "dHRlcnlfdiI6My43MX19LHsidHMiOjE3OTU4NjcyMDAwMDAsInZhbHVlcyI6eyJiYXR0ZXJ5X3YiOjMuNywicnNzaS5kYm0iOi03MX19XX0."
    "4Adt2c8jEZrSEN_pSlliUVZ5jRMZ5-mhYXSFsTJh_Cjy3JVnTVSv_a4NlWAMoIyK8NGhGy0JUiilaR2BAwMTCA";

static const td_value EDDSA_FIRST[] = {{"battery_v", 3.71}};
static const td_value EDDSA_SECOND[] = {{"battery_v", 3.7}, {"rssi.dbm", -71}};
static const td_reading EDDSA_READINGS[] = {{1795867140000ULL, EDDSA_FIRST, 1}, {1795867200000ULL, EDDSA_SECOND, 2}};
static const td_identity EDDSA_IDENTITY = {"sensor-eddsa", "sensor-eddsa.k1", NULL};

static td_sodium_ed25519 eddsa_key;
static td_signer eddsa_signer;

static void load_eddsa(void) {
    uint8_t seed[32];
    size_t n;
    if (td_base64url_decode(EDDSA_SEED_B64, strlen(EDDSA_SEED_B64), seed, sizeof seed, &n) != TD_OK || n != 32 ||
        td_sodium_ed25519_init(&eddsa_key, seed) != TD_OK) {
        fprintf(stderr, "cannot load the EdDSA vector key\n");
        exit(2);
    }
    eddsa_signer = td_sodium_ed25519_signer(&eddsa_key);
}

/* ------------------------------------------------------------------ encoding */

static void encodes_base64url_without_padding(void) {
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const encoded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char out[16];
    uint8_t back[16];
    size_t i, n;
    for (i = 0; i < 7; i++) {
        CHECK_RC(td_base64url_encode((const uint8_t *)plain[i], strlen(plain[i]), out, sizeof out, &n), TD_OK);
        CHECK_STR(out, encoded[i]);
        CHECK(n == TD_B64URL_LEN(strlen(plain[i])));
        CHECK_RC(td_base64url_decode(out, n, back, sizeof back, &n), TD_OK);
        CHECK(n == strlen(plain[i]) && memcmp(back, plain[i], n) == 0);
    }
    {
        const uint8_t url_chars[] = {0xfb, 0xff};
        CHECK_RC(td_base64url_encode(url_chars, 2, out, sizeof out, &n), TD_OK);
        CHECK_STR(out, "-_8");
    }
    CHECK_RC(td_base64url_encode((const uint8_t *)"foo", 3, out, 4, &n), TD_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(td_base64url_decode("Zm9v=", 5, back, sizeof back, &n), TD_ERR_INVALID_ARGUMENT);
    CHECK_RC(td_base64url_decode("Zm+v", 4, back, sizeof back, &n), TD_ERR_PARSE);
}

static void formats_numbers_as_the_shortest_text_that_reads_back_exactly(void) {
    static const struct {
        double value;
        const char *text;
    } cases[] = {{21.5, "21.5"},
                 {40.25, "40.25"},
                 {0.1, "0.1"},
                 {3.7, "3.7"},
                 {-71, "-71"},
                 {-0.5, "-0.5"},
                 {0, "0"},
                 {1e300, "1e+300"},
                 {1.0 / 3.0, "0.3333333333333333"},
                 {5e-324, "5e-324"},
                 {DBL_MAX, "1.7976931348623157e+308"},
                 {123456789012345680.0, "1.2345678901234568e+17"},
                 {9007199254740991.0, "9007199254740991"},
                 {-9007199254740991.0, "-9007199254740991"},
                 {9007199254740992.0, "9007199254740992"},
                 {1e21, "1e+21"},
                 {-0.0, "-0"}};
    char out[TD_DOUBLE_CHARS + 1];
    size_t i, n;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_RC(td_format_double(cases[i].value, out, sizeof out, &n), TD_OK);
        CHECK_STR(out, cases[i].text);
    }
    /* Every double reads back as itself, across magnitudes. */
    {
        unsigned long state = 12345;
        int k;
        for (k = 0; k < 20000; k++) {
            double value;
            state = state * 6364136223846793005UL + 1442695040888963407UL;
            value = ldexp((double)(state >> 11) / 9007199254740992.0, (int)(state % 200) - 100) * ((k & 1) ? -1 : 1);
            CHECK_RC(td_format_double(value, out, sizeof out, &n), TD_OK);
            CHECK(strtod(out, NULL) == value && n <= TD_DOUBLE_CHARS);
        }
    }
    CHECK_RC(td_format_double(-2.2250738585072014e-308, out, sizeof out, &n), TD_OK);
    CHECK(n == TD_DOUBLE_CHARS);
    CHECK_RC(td_format_double(NAN, out, sizeof out, &n), TD_ERR_NOT_FINITE);
    CHECK_RC(td_format_double(INFINITY, out, sizeof out, &n), TD_ERR_NOT_FINITE);
    CHECK_RC(td_format_double(21.5, out, 4, &n), TD_ERR_BUFFER_TOO_SMALL);
}

static void checks_names_as_section_2_3_defines_them(void) {
    char long_name[80];
    CHECK(td_is_device_id("boiler-7") && td_is_device_id("a.b_c-d") && !td_is_device_id("-x"));
    CHECK(!td_is_device_id("a/b") && !td_is_device_id("") && !td_is_device_id("a b"));
    CHECK(td_is_metric_name("rssi.dbm") && td_is_metric_name("_x") && !td_is_metric_name("7up"));
    CHECK(!td_is_metric_name("a+b") && !td_is_metric_name("temp=1"));
    CHECK(td_is_key_id("sensor-es256.k1") && td_is_key_id("a:b") && !td_is_key_id("a/b"));
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    CHECK(td_is_device_id(long_name) && td_is_metric_name(long_name));
    long_name[64] = 'a';
    long_name[65] = '\0';
    CHECK(!td_is_device_id(long_name) && !td_is_metric_name(long_name));
}

/* ------------------------------------------------------------------ messages */

static void writes_the_payload_of_section_2_2(void) {
    const td_value values[] = {{"temperature", 21.5}, {"humidity", 40.25}};
    const td_reading reading = {1795867199000ULL, values, 2};
    char out[256];
    size_t n;
    CHECK_RC(td_payload_json("sensor-es256", 1, &reading, 1, out, sizeof out, &n), TD_OK);
    CHECK_STR(out, "{\"v\":1,\"device\":\"sensor-es256\",\"seq\":1,\"readings\":[{\"ts\":1795867199000,\"values\":"
                   "{\"temperature\":21.5,\"humidity\":40.25}}]}");
    CHECK(n == strlen(out));
    CHECK(n <= TD_PAYLOAD_MAX(12, 1, 2, 11));
}

static void signs_the_eddsa_vector_byte_for_byte(void) {
    char out[sizeof EDDSA_VECTOR];
    size_t n;
    CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, 2, EDDSA_READINGS, 2, out, sizeof out, &n), TD_OK);
    CHECK_STR(out, EDDSA_VECTOR);
    CHECK(n == strlen(EDDSA_VECTOR));
}

static void sizes_buffers_at_compile_time_with_its_macros(void) {
    /* The EdDSA vector: device and kid of 12 and 15 characters, 2 readings, 3 values, names up to 9. */
    enum { CAP = TD_MESSAGE_MAX(TD_HEADER_MAX(15), TD_PAYLOAD_MAX(12, 2, 3, 9)) };
    enum { TOKEN_CAP = TD_MESSAGE_MAX(TD_HEADER_MAX(15), TD_TOKEN_CLAIMS_MAX(12, 16)) };
    char out[CAP], token[TOKEN_CAP];
    size_t n;
    CHECK(CAP >= sizeof EDDSA_VECTOR);
    CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, 2, EDDSA_READINGS, 2, out, sizeof out, &n), TD_OK);
    /* The largest seq, ts and numbers still fit the bounds. */
    {
        const td_value widest[] = {{"battery_v", -2.2250738585072014e-308}};
        const td_reading reading = {TD_MAX_SAFE_INTEGER, widest, 1};
        enum { ONE = TD_MESSAGE_MAX(TD_HEADER_MAX(15), TD_PAYLOAD_MAX(12, 1, 1, 9)) };
        char one[ONE];
        CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, TD_MAX_SAFE_INTEGER, &reading, 1, one, sizeof one, &n),
                 TD_OK);
    }
    CHECK_RC(td_connect_token(&eddsa_signer, &EDDSA_IDENTITY, TD_DEFAULT_AUDIENCE, TD_MAX_SAFE_INTEGER - 1,
                              TD_MAX_SAFE_INTEGER, token, sizeof token, &n),
             TD_OK);
}

static void refuses_every_buffer_one_byte_too_small_without_writing_past_it(void) {
    size_t cap, n;
    size_t need = strlen(EDDSA_VECTOR) + 1;
    for (cap = 0; cap < need; cap++) {
        char *out = (char *)malloc(cap == 0 ? 1 : cap);
        CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, 2, EDDSA_READINGS, 2, out, cap, &n),
                 TD_ERR_BUFFER_TOO_SMALL);
        free(out);
    }
    {
        char *out = (char *)malloc(need);
        CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, 2, EDDSA_READINGS, 2, out, need, &n), TD_OK);
        free(out);
    }
}

static void refuses_what_a_node_would_refuse_before_signing(void) {
    const td_value nan_value[] = {{"t", NAN}};
    const td_value bad_name[] = {{"t=1", 1}};
    const td_reading nan_reading = {1795867199000ULL, nan_value, 1};
    const td_reading bad_reading = {1795867199000ULL, bad_name, 1};
    const td_reading no_values = {1795867199000ULL, bad_name, 0};
    const td_identity bad_device = {"a/b", "k", NULL};
    const td_identity bad_kid = {"a", "k/1", NULL};
    char out[512];
    size_t n;
    CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, 1, &nan_reading, 1, out, sizeof out, &n),
             TD_ERR_NOT_FINITE);
    CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, 1, &bad_reading, 1, out, sizeof out, &n), TD_ERR_NAME);
    CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, 1, &no_values, 1, out, sizeof out, &n),
             TD_ERR_INVALID_ARGUMENT);
    CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, 1, EDDSA_READINGS, 0, out, sizeof out, &n),
             TD_ERR_INVALID_ARGUMENT);
    CHECK_RC(td_sign_message(&eddsa_signer, &bad_device, 1, EDDSA_READINGS, 1, out, sizeof out, &n), TD_ERR_NAME);
    CHECK_RC(td_sign_message(&eddsa_signer, &bad_kid, 1, EDDSA_READINGS, 1, out, sizeof out, &n), TD_ERR_NAME);
    CHECK_RC(td_sign_message(&eddsa_signer, &EDDSA_IDENTITY, TD_MAX_SAFE_INTEGER + 1, EDDSA_READINGS, 1, out,
                             sizeof out, &n),
             TD_ERR_RANGE);
}

static int failing_sign(void *ctx, const uint8_t *input, size_t len, uint8_t signature[TD_SIGNATURE_BYTES]) {
    (void)ctx;
    (void)input;
    (void)len;
    (void)signature;
    return 1;
}

static void reports_a_failing_signer_such_as_a_secure_element_that_did_not_answer(void) {
    td_signer broken = {TD_ES256, failing_sign, NULL};
    char out[512];
    size_t n;
    CHECK_RC(td_sign_message(&broken, &EDDSA_IDENTITY, 1, EDDSA_READINGS, 1, out, sizeof out, &n), TD_ERR_SIGN);
}

static void puts_a_credential_in_the_dcr_header_instead_of_the_kid(void) {
    const td_identity with_credential = {"sensor-eddsa", "ignored.k1", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"};
    char out[512], header[128];
    uint8_t decoded[128];
    size_t n, hn;
    CHECK_RC(td_sign_message(&eddsa_signer, &with_credential, 1, EDDSA_READINGS, 1, out, sizeof out, &n), TD_OK);
    CHECK_RC(td_base64url_decode(out, (size_t)(strchr(out, '.') - out), decoded, sizeof decoded - 1, &hn), TD_OK);
    decoded[hn] = '\0';
    strcpy(header, (const char *)decoded);
    CHECK_STR(header, "{\"alg\":\"EdDSA\",\"typ\":\"telemetry+jws\",\"dcr\":\"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\"}");
}

static int test_rng(void *ctx, unsigned char *out, size_t len) {
    (void)ctx;
    randombytes_buf(out, len);
    return 0;
}

static void signs_an_es256_message_as_64_raw_bytes_verifiable_with_the_public_key(void) {
    td_mbedtls_es256 key;
    td_signer signer;
    uint8_t d[32], signature[80];
    size_t n, sig_len;
    char out[512];
    const td_identity identity = {"sensor-es256", "sensor-es256.k1", NULL};
    const td_value values[] = {{"temperature", 21.5}};
    const td_reading reading = {1795867199000ULL, values, 1};
    CHECK_RC(td_base64url_decode(ES256_D_B64, strlen(ES256_D_B64), d, sizeof d, &n), TD_OK);
    CHECK_RC(td_mbedtls_es256_init(&key, d, test_rng, NULL), TD_OK);
    signer = td_mbedtls_es256_signer(&key);
    CHECK_RC(td_sign_message(&signer, &identity, 1, &reading, 1, out, sizeof out, &n), TD_OK);
    CHECK(strlen(strrchr(out, '.') + 1) == TD_SIGNATURE_B64_CHARS);
    CHECK_RC(td_base64url_decode(strrchr(out, '.') + 1, TD_SIGNATURE_B64_CHARS, signature, sizeof signature, &sig_len),
             TD_OK);
    CHECK(sig_len == 64);
    td_mbedtls_es256_free(&key);
    {
        uint8_t zero[32];
        memset(zero, 0, sizeof zero);
        CHECK_RC(td_mbedtls_es256_init(&key, zero, test_rng, NULL), TD_ERR_INVALID_ARGUMENT);
    }
}

static void builds_a_connection_token_with_the_claims_of_section_4_3(void) {
    char out[512], claims[160];
    uint8_t decoded[160];
    const char *first, *second;
    size_t n, cn;
    CHECK_RC(td_connect_token(&eddsa_signer, &EDDSA_IDENTITY, TD_DEFAULT_AUDIENCE, 1795867140, 1795870740, out,
                              sizeof out, &n),
             TD_OK);
    first = strchr(out, '.');
    second = strchr(first + 1, '.');
    CHECK_RC(td_base64url_decode(first + 1, (size_t)(second - first - 1), decoded, sizeof decoded - 1, &cn), TD_OK);
    decoded[cn] = '\0';
    strcpy(claims, (const char *)decoded);
    CHECK_STR(claims, "{\"sub\":\"sensor-eddsa\",\"aud\":\"telemetry-ingest\",\"iat\":1795867140,\"exp\":1795870740}");
    CHECK_RC(td_connect_token(&eddsa_signer, &EDDSA_IDENTITY, TD_DEFAULT_AUDIENCE, 10, 10, out, sizeof out, &n),
             TD_ERR_INVALID_ARGUMENT);
    CHECK_RC(td_connect_token(&eddsa_signer, &EDDSA_IDENTITY, "a\"b", 1, 10, out, sizeof out, &n),
             TD_ERR_INVALID_ARGUMENT);
}

static void builds_a_batch_body_and_stops_cleanly_when_the_next_message_does_not_fit(void) {
    char out[40];
    td_batch batch;
    size_t n;
    td_batch_init(&batch, out, sizeof out);
    CHECK_RC(td_batch_finish(&batch, &n), TD_ERR_INVALID_ARGUMENT);
    CHECK_RC(td_batch_add(&batch, "a.b.c", 5), TD_OK);
    CHECK_RC(td_batch_add(&batch, "d.e.f", 5), TD_OK);
    CHECK_RC(td_batch_add(&batch, "g.h.i.j.k.l.m", 13), TD_ERR_BUFFER_TOO_SMALL);
    CHECK_RC(td_batch_add(&batch, "x\"y", 3), TD_ERR_INVALID_ARGUMENT);
    CHECK_RC(td_batch_finish(&batch, &n), TD_OK);
    CHECK_STR(out, "{\"messages\":[\"a.b.c\",\"d.e.f\"]}");
    CHECK(n == strlen(out) && batch.count == 2);
}

/* ------------------------------------------------------------------ answers */

static void tells_resend_from_drop_by_http_status_as_section_9_3_says(void) {
    static const int stored[] = {200};
    static const int drop[] = {400, 401, 403, 404, 413, 415, 422};
    static const int resend[] = {0, 408, 429, 500, 503};
    size_t i;
    for (i = 0; i < sizeof stored / sizeof stored[0]; i++) CHECK(td_http_outcome(stored[i]) == TD_STORED);
    for (i = 0; i < sizeof drop / sizeof drop[0]; i++) CHECK(td_http_outcome(drop[i]) == TD_DROP);
    for (i = 0; i < sizeof resend / sizeof resend[0]; i++) CHECK(td_http_outcome(resend[i]) == TD_RESEND);
}

static void reads_retry_after_in_seconds_and_refuses_dates(void) {
    uint32_t s = 99;
    CHECK_RC(td_parse_retry_after("5", 1, &s), TD_OK);
    CHECK(s == 5);
    CHECK_RC(td_parse_retry_after(" 120\r\n", 6, &s), TD_OK);
    CHECK(s == 120);
    CHECK_RC(td_parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", 29, &s), TD_ERR_PARSE);
    CHECK_RC(td_parse_retry_after("", 0, &s), TD_ERR_PARSE);
    CHECK_RC(td_parse_retry_after("-1", 2, &s), TD_ERR_PARSE);
}

static void reads_an_http_error_body(void) {
    static const char body[] = "{\"error\":{\"code\":\"ERR_STORE_UNAVAILABLE\",\"message\":\"the store did not "
                               "accept the write\",\"retryable\":true}}";
    td_refusal r;
    CHECK_RC(td_parse_http_error(body, strlen(body), &r), TD_OK);
    CHECK_STR(r.code, "ERR_STORE_UNAVAILABLE");
    CHECK(r.retryable == 1);
    CHECK_RC(td_parse_http_error("{\"error\":{}}", 12, &r), TD_ERR_PARSE);
    CHECK_RC(td_parse_http_error("<html>", 6, &r), TD_ERR_PARSE);
}

static void reads_mqtt_error_notices_of_section_10_1(void) {
    static const char dropped[] = "{\"seq\":12,\"code\":\"ERR_TIMESTAMP_UNIT\",\"message\":\"payload.readings[0].ts "
                                  "looks like seconds; ...\",\"retryable\":false}";
    static const char retry[] = " {\"seq\":13,\"code\":\"ERR_OVERLOADED\",\"message\":\"busy \\\"now\\\"\","
                                "\"retryable\":true,\"retryAfter\":5}\n";
    static const char unverified[] = "{\"seq\":null,\"code\":\"ERR_SIGNATURE_INVALID\",\"message\":\"x\",\"retryable\":false}";
    td_refusal r;
    CHECK_RC(td_parse_error_notice(dropped, strlen(dropped), &r), TD_OK);
    CHECK(r.has_seq == 1 && r.seq == 12 && r.retryable == 0 && r.retry_after_s == 0);
    CHECK_STR(r.code, "ERR_TIMESTAMP_UNIT");
    CHECK_RC(td_parse_error_notice(retry, strlen(retry), &r), TD_OK);
    CHECK(r.has_seq == 1 && r.seq == 13 && r.retryable == 1 && r.retry_after_s == 5);
    CHECK_RC(td_parse_error_notice(unverified, strlen(unverified), &r), TD_OK);
    CHECK(r.has_seq == 0);
    CHECK_RC(td_parse_error_notice("{\"seq\":1}", 9, &r), TD_ERR_PARSE);
    CHECK_RC(td_parse_error_notice("{\"seq\":1,\"code\":\"E\",\"retryable\":false", 36, &r), TD_ERR_PARSE);
}

typedef struct seen_seqs {
    uint64_t seqs[8];
    size_t count;
} seen_seqs;

static void remember_seq(void *ctx, uint64_t seq) {
    seen_seqs *seen = (seen_seqs *)ctx;
    if (seen->count < 8) seen->seqs[seen->count] = seq;
    seen->count++;
}

static void reads_end_to_end_acks_listing_stored_seqs(void) {
    seen_seqs seen;
    static const char *const invalid[] = {"{}", "{\"seqs\":[1.5]}", "{\"seqs\":\"12\"}", "{\"seqs\":[12,", "[12]",
                                          "{\"seqs\":[-1]}", "{\"seqs\":[12]} x", "{\"seqs\":[9007199254740992]}"};
    size_t i;
    memset(&seen, 0, sizeof seen);
    CHECK_RC(td_parse_ack("{\"seqs\":[12,13]}", 16, remember_seq, &seen), TD_OK);
    CHECK(seen.count == 2 && seen.seqs[0] == 12 && seen.seqs[1] == 13);
    memset(&seen, 0, sizeof seen);
    CHECK_RC(td_parse_ack(" { \"seqs\" : [ 7 , 3, 7 ] }\n", 27, remember_seq, &seen), TD_OK);
    CHECK(seen.count == 3 && seen.seqs[0] == 7 && seen.seqs[1] == 3 && seen.seqs[2] == 7);
    memset(&seen, 0, sizeof seen);
    CHECK_RC(td_parse_ack("{\"seqs\":[],\"node\":{\"id\":\"a\"}}", 29, remember_seq, &seen), TD_OK);
    CHECK(seen.count == 0);
    for (i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        memset(&seen, 0, sizeof seen);
        CHECK_RC(td_parse_ack(invalid[i], strlen(invalid[i]), remember_seq, &seen), TD_ERR_PARSE);
        CHECK(seen.count == 0);
    }
}

static void reads_batch_results_in_order(void) {
    static const char body[] =
        "{\"results\":[\n"
        "  {\"status\":\"accepted\",\"device\":\"sensor-es256\",\"seq\":1,\"readings\":1},\n"
        "  {\"status\":\"rejected\",\"code\":\"ERR_DEVICE_MISMATCH\",\"message\":\"...\",\"retryable\":false},\n"
        "  {\"status\":\"rejected\",\"code\":\"ERR_STORE_UNAVAILABLE\",\"message\":\"...\",\"retryable\":true}\n"
        "]}";
    td_batch_result results[3];
    size_t count;
    CHECK_RC(td_parse_batch_results(body, strlen(body), results, 3, &count), TD_OK);
    CHECK(count == 3);
    CHECK(results[0].outcome == TD_STORED && results[1].outcome == TD_DROP && results[2].outcome == TD_RESEND);
    CHECK_STR(results[1].refusal.code, "ERR_DEVICE_MISMATCH");
    CHECK_RC(td_parse_batch_results(body, strlen(body), results, 2, &count), TD_ERR_BUFFER_TOO_SMALL);
    CHECK(count == 3);
}

/* ------------------------------------------------------------------ backoff, seq, backlog */

static void backs_off_exponentially_with_jitter_and_honours_retry_after(void) {
    const td_backoff policy = {1000, 60000};
    uint32_t attempt, r;
    for (attempt = 0; attempt < 12; attempt++) {
        uint32_t full = attempt >= 6 ? 60000 : 1000u << attempt;
        for (r = 0; r < 2000; r += 37) {
            uint32_t wait = td_backoff_ms(&policy, attempt, r * 2654435761u, 0);
            CHECK(wait >= full / 2 && wait <= full);
        }
    }
    CHECK(td_backoff_ms(&policy, 0, 0, 0) == 500 && td_backoff_ms(&policy, 0, 500, 0) == 1000);
    CHECK(td_backoff_ms(&policy, 0, 7, 30) == 30000);
    CHECK(td_backoff_ms(&policy, 40, 0xffffffffu, 0) <= 60000);
    /* A first send waits for the ack only; a resend also backs off, further each time. */
    CHECK(td_ack_deadline_ms(&policy, 5000, 0, TD_ACK_TIMEOUT_MS, 12345) == 35000);
    CHECK(td_ack_deadline_ms(&policy, 5000, 1, TD_ACK_TIMEOUT_MS, 0) == 35500);
    CHECK(td_ack_deadline_ms(&policy, 5000, 3, TD_ACK_TIMEOUT_MS, 0) == 37000);
}

typedef struct persisted_seq {
    uint64_t value;
    int writes;
    int fail;
} persisted_seq;

static int persist_seq(void *ctx, uint64_t reserved_until) {
    persisted_seq *p = (persisted_seq *)ctx;
    if (p->fail) return -1;
    p->value = reserved_until;
    p->writes++;
    return 0;
}

static void hands_out_seqs_that_a_reboot_never_reuses_with_one_write_per_block(void) {
    persisted_seq flash = {0, 0, 0};
    td_seq seq;
    uint64_t value = 0, last = 0;
    int i;
    CHECK_RC(td_seq_init(&seq, flash.value, 100, persist_seq, &flash), TD_OK);
    for (i = 0; i < 250; i++) {
        CHECK_RC(td_seq_next(&seq, &value), TD_OK);
        CHECK(i == 0 || value == last + 1);
        last = value;
    }
    CHECK(flash.writes == 3 && flash.value == 300);
    /* Reboot: the next seq is above every one handed out before. */
    CHECK_RC(td_seq_init(&seq, flash.value, 100, persist_seq, &flash), TD_OK);
    CHECK_RC(td_seq_next(&seq, &value), TD_OK);
    CHECK(value > last && value == 300 && flash.value == 400);
    /* A reservation that cannot be persisted hands out nothing. */
    CHECK_RC(td_seq_init(&seq, flash.value, 100, persist_seq, &flash), TD_OK);
    flash.fail = 1;
    CHECK_RC(td_seq_next(&seq, &value), TD_ERR_PERSIST);
    flash.fail = 0;
    CHECK_RC(td_seq_next(&seq, &value), TD_OK);
    CHECK(value == 400);
}

static void mark_delivered(void *ctx, uint64_t seq) { td_backlog_delivered((td_backlog *)ctx, seq); }

static void keeps_messages_until_an_ack_names_their_seq_in_any_order(void) {
    uint8_t *area = (uint8_t *)malloc(1024);
    td_backlog backlog;
    td_backlog_entry entry;
    char message[64];
    uint64_t seq;
    CHECK_RC(td_backlog_open(&backlog, td_backlog_ram_storage(area, 1024), NULL), TD_OK);
    for (seq = 10; seq < 14; seq++) {
        sprintf(message, "message-%u", (unsigned)seq);
        CHECK_RC(td_backlog_push(&backlog, seq, message, strlen(message), 0), TD_OK);
    }
    CHECK(td_backlog_pending(&backlog) == 4);
    CHECK_RC(td_backlog_next_due(&backlog, 0, &entry), TD_OK);
    CHECK(entry.seq == 10);
    CHECK_RC(td_backlog_read(&backlog, &entry, message, sizeof message), TD_OK);
    CHECK_STR(message, "message-10");
    /* Sent, so not due until the ack timeout; the next one due is 11. */
    CHECK_RC(td_backlog_sent(&backlog, 10, 30000), TD_OK);
    CHECK_RC(td_backlog_next_due(&backlog, 0, &entry), TD_OK);
    CHECK(entry.seq == 11);
    CHECK_RC(td_parse_ack("{\"seqs\":[13,11,11]}", 19, mark_delivered, &backlog), TD_OK);
    CHECK(td_backlog_pending(&backlog) == 2);
    CHECK_RC(td_backlog_next_due(&backlog, 0, &entry), TD_OK);
    CHECK(entry.seq == 12);
    CHECK_RC(td_backlog_next_due(&backlog, 30000, &entry), TD_OK);
    CHECK(entry.seq == 10 && entry.attempts == 1);
    CHECK_RC(td_backlog_find(&backlog, 12, &entry), TD_OK);
    CHECK(entry.seq == 12 && entry.attempts == 0);
    CHECK_RC(td_backlog_find(&backlog, 11, &entry), TD_ERR_NOT_FOUND);
    CHECK_RC(td_backlog_drop(&backlog, 12), TD_OK);
    CHECK_RC(td_backlog_delivered(&backlog, 10), TD_OK);
    CHECK(td_backlog_pending(&backlog) == 0 && backlog.state.count == 0 && backlog.state.used == 0);
    CHECK_RC(td_backlog_delivered(&backlog, 10), TD_ERR_NOT_FOUND);
    CHECK_RC(td_backlog_next_due(&backlog, 99999, &entry), TD_ERR_NOT_FOUND);
    free(area);
}

static void wraps_around_and_drops_the_oldest_when_full_counting_them(void) {
    const size_t size = 200;
    uint8_t *area = (uint8_t *)malloc(size);
    td_backlog backlog;
    td_backlog_entry entry;
    char message[64], back[64];
    uint64_t seq, oldest = 0;
    CHECK_RC(td_backlog_open(&backlog, td_backlog_ram_storage(area, size), NULL), TD_OK);
    /* Push and deliver many messages of varying length: the ring wraps again and again. */
    for (seq = 0; seq < 500; seq++) {
        size_t len = 5 + (size_t)(seq * 7 % 23);
        memset(message, (int)('a' + seq % 26), len);
        message[len] = '\0';
        CHECK_RC(td_backlog_push(&backlog, seq, message, len, seq), TD_OK);
        if (seq % 3 != 0) {
            CHECK_RC(td_backlog_next_due(&backlog, seq, &entry), TD_OK);
            CHECK_RC(td_backlog_read(&backlog, &entry, back, sizeof back), TD_OK);
            CHECK(strlen(back) == entry.len && back[0] == (char)('a' + entry.seq % 26));
            CHECK_RC(td_backlog_delivered(&backlog, entry.seq), TD_OK);
        }
        CHECK(backlog.state.used <= size);
    }
    CHECK(backlog.evicted > 0);
    CHECK(td_backlog_pending(&backlog) + backlog.evicted + 333 == 500);
    /* What is left is the newest, oldest first. */
    CHECK_RC(td_backlog_next_due(&backlog, 1000, &entry), TD_OK);
    oldest = entry.seq;
    CHECK(oldest > 400);
    CHECK_RC(td_backlog_push(&backlog, 1, message, 200, 0), TD_ERR_TOO_LARGE);
    free(area);
}

static int save_backlog_state(void *ctx, const td_backlog_state *state) {
    *(td_backlog_state *)ctx = *state;
    return 0;
}

static void finds_its_messages_again_after_a_reboot_from_the_persisted_state(void) {
    uint8_t *area = (uint8_t *)malloc(512);
    td_backlog before, after;
    td_backlog_state saved;
    td_backlog_entry entry;
    char back[32];
    CHECK_RC(td_backlog_open(&before, td_backlog_ram_storage(area, 512), NULL), TD_OK);
    before.on_state = save_backlog_state;
    before.state_ctx = &saved;
    CHECK_RC(td_backlog_push(&before, 1, "one", 3, 0), TD_OK);
    CHECK_RC(td_backlog_push(&before, 2, "two", 3, 0), TD_OK);
    CHECK_RC(td_backlog_delivered(&before, 1), TD_OK);
    /* The area stands for flash or FRAM that kept its bytes; only the saved state is carried over. */
    CHECK_RC(td_backlog_open(&after, td_backlog_ram_storage(area, 512), &saved), TD_OK);
    CHECK(td_backlog_pending(&after) == 1);
    CHECK_RC(td_backlog_next_due(&after, 0, &entry), TD_OK);
    CHECK_RC(td_backlog_read(&after, &entry, back, sizeof back), TD_OK);
    CHECK(entry.seq == 2);
    CHECK_STR(back, "two");
    CHECK_RC(td_backlog_read(&after, &entry, back, 3), TD_ERR_BUFFER_TOO_SMALL);
    free(area);
}

static void survives_a_reboot_at_any_point_of_a_wrapping_ring(void) {
    const size_t size = 100; /* records of 25 bytes: the oldest one often ends exactly at the end of the area */
    uint8_t *area = (uint8_t *)malloc(size);
    td_backlog backlog;
    td_backlog_state saved;
    td_backlog_entry entry;
    char back[8];
    uint64_t seq;
    memset(&saved, 0, sizeof saved);
    for (seq = 0; seq < 300; seq++) {
        /* Reboot before every step: only the area and the saved state are kept. */
        CHECK_RC(td_backlog_open(&backlog, td_backlog_ram_storage(area, size), seq == 0 ? NULL : &saved), TD_OK);
        backlog.on_state = save_backlog_state;
        backlog.state_ctx = &saved;
        CHECK_RC(td_backlog_push(&backlog, seq, "a", 1, 0), TD_OK);
        /* The one before leaves, so the oldest record moves along the ring one record at a time. */
        if (seq > 0) CHECK_RC(td_backlog_delivered(&backlog, seq - 1), TD_OK);
        CHECK(td_backlog_pending(&backlog) == 1);
        CHECK(backlog.state.used <= size && backlog.state.tail < size && backlog.state.head < size);
    }
    CHECK_RC(td_backlog_open(&backlog, td_backlog_ram_storage(area, size), &saved), TD_OK);
    CHECK(td_backlog_pending(&backlog) == 1);
    CHECK_RC(td_backlog_next_due(&backlog, 0, &entry), TD_OK);
    CHECK_RC(td_backlog_read(&backlog, &entry, back, sizeof back), TD_OK);
    CHECK(entry.seq == 299);
    CHECK_STR(back, "a");
    free(area);
}

int main(void) {
    if (sodium_init() < 0) return 2;
    load_eddsa();
    run("encodes base64url without padding", encodes_base64url_without_padding);
    run("formats numbers as the shortest text that reads back exactly",
        formats_numbers_as_the_shortest_text_that_reads_back_exactly);
    run("checks names as section 2.3 defines them", checks_names_as_section_2_3_defines_them);
    run("writes the payload of section 2.2", writes_the_payload_of_section_2_2);
    run("signs the EdDSA vector byte for byte", signs_the_eddsa_vector_byte_for_byte);
    run("sizes buffers at compile time with its macros", sizes_buffers_at_compile_time_with_its_macros);
    run("refuses every buffer one byte too small without writing past it",
        refuses_every_buffer_one_byte_too_small_without_writing_past_it);
    run("refuses what a node would refuse, before signing", refuses_what_a_node_would_refuse_before_signing);
    run("reports a failing signer, such as a secure element that did not answer",
        reports_a_failing_signer_such_as_a_secure_element_that_did_not_answer);
    run("puts a credential in the dcr header instead of the kid",
        puts_a_credential_in_the_dcr_header_instead_of_the_kid);
    run("signs an ES256 message as 64 raw bytes", signs_an_es256_message_as_64_raw_bytes_verifiable_with_the_public_key);
    run("builds a connection token with the claims of section 4.3",
        builds_a_connection_token_with_the_claims_of_section_4_3);
    run("builds a batch body and stops cleanly when the next message does not fit",
        builds_a_batch_body_and_stops_cleanly_when_the_next_message_does_not_fit);
    run("tells resend from drop by HTTP status as section 9.3 says",
        tells_resend_from_drop_by_http_status_as_section_9_3_says);
    run("reads Retry-After in seconds and refuses dates", reads_retry_after_in_seconds_and_refuses_dates);
    run("reads an HTTP error body", reads_an_http_error_body);
    run("reads MQTT error notices of section 10.1", reads_mqtt_error_notices_of_section_10_1);
    run("reads end-to-end acks listing stored seqs", reads_end_to_end_acks_listing_stored_seqs);
    run("reads batch results in order", reads_batch_results_in_order);
    run("backs off exponentially with jitter, honours Retry-After, and waits for acks",
        backs_off_exponentially_with_jitter_and_honours_retry_after);
    run("hands out seqs that a reboot never reuses, with one write per block",
        hands_out_seqs_that_a_reboot_never_reuses_with_one_write_per_block);
    run("keeps messages until an ack names their seq, in any order",
        keeps_messages_until_an_ack_names_their_seq_in_any_order);
    run("wraps around and drops the oldest when full, counting them",
        wraps_around_and_drops_the_oldest_when_full_counting_them);
    run("finds its messages again after a reboot from the persisted state",
        finds_its_messages_again_after_a_reboot_from_the_persisted_state);
    run("survives a reboot at any point of a wrapping ring", survives_a_reboot_at_any_point_of_a_wrapping_ring);
    td_sodium_ed25519_free(&eddsa_key);
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
