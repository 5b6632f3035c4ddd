/* Payload, protected header, compact JWS, connection token and batch body (PROTOCOL.md §2, §3, §4.3, §9.2). */
#include <string.h>

#include "td_internal.h"

#define MESSAGE_TYP "telemetry+jws"
#define CONNECT_TYP "connect+jwt"

const char *td_alg_name(td_alg alg) { return alg == TD_EDDSA ? "EdDSA" : "ES256"; }

/* A credential is a compact JWT: base64url parts and dots, so it needs no JSON escaping. */
static int is_compact_jws(const char *text) {
    size_t i;
    if (text == NULL || text[0] == '\0') return 0;
    for (i = 0; text[i] != '\0'; i++) {
        char c = text[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 c == '.';
        if (!ok) return 0;
    }
    return 1;
}

static int check_identity(const td_signer *signer, const td_identity *identity) {
    if (signer == NULL || signer->sign == NULL || identity == NULL) return TD_ERR_INVALID_ARGUMENT;
    if (signer->alg != TD_ES256 && signer->alg != TD_EDDSA) return TD_ERR_INVALID_ARGUMENT;
    if (!td_is_device_id(identity->device)) return TD_ERR_NAME;
    if (identity->credential != NULL) return is_compact_jws(identity->credential) ? TD_OK : TD_ERR_INVALID_ARGUMENT;
    return td_is_key_id(identity->kid) ? TD_OK : TD_ERR_NAME;
}

/* {"alg":...,"typ":...,"kid":...} or with "dcr" (§2.1), in the order the vectors use. */
static void write_header(td_writer *w, td_alg alg, const td_identity *identity, const char *typ) {
    td_writer_text(w, "{\"alg\":\"");
    td_writer_text(w, td_alg_name(alg));
    td_writer_text(w, "\",\"typ\":\"");
    td_writer_text(w, typ);
    if (identity->credential != NULL) {
        td_writer_text(w, "\",\"dcr\":\"");
        td_writer_text(w, identity->credential);
    } else {
        td_writer_text(w, "\",\"kid\":\"");
        td_writer_text(w, identity->kid);
    }
    td_writer_text(w, "\"}");
}

static int check_readings(const td_reading *readings, size_t reading_count) {
    size_t r, v;
    if (readings == NULL || reading_count == 0) return TD_ERR_INVALID_ARGUMENT;
    for (r = 0; r < reading_count; r++) {
        if (readings[r].values == NULL || readings[r].value_count == 0) return TD_ERR_INVALID_ARGUMENT;
        if (readings[r].ts_ms > TD_MAX_SAFE_INTEGER) return TD_ERR_RANGE;
        for (v = 0; v < readings[r].value_count; v++) {
            if (!td_is_metric_name(readings[r].values[v].name)) return TD_ERR_NAME;
        }
    }
    return TD_OK;
}

static int write_payload(td_writer *w, const char *device, uint64_t seq, const td_reading *readings,
                         size_t reading_count) {
    size_t r, v;
    if (!td_is_device_id(device)) return TD_ERR_NAME;
    if (seq > TD_MAX_SAFE_INTEGER) return TD_ERR_RANGE;
    {
        int rc = check_readings(readings, reading_count);
        if (rc != TD_OK) return rc;
    }
    td_writer_text(w, "{\"v\":1,\"device\":\"");
    td_writer_text(w, device);
    td_writer_text(w, "\",\"seq\":");
    td_writer_uint(w, seq);
    td_writer_text(w, ",\"readings\":[");
    for (r = 0; r < reading_count; r++) {
        const td_reading *reading = &readings[r];
        if (r > 0) td_writer_text(w, ",");
        td_writer_text(w, "{\"ts\":");
        td_writer_uint(w, reading->ts_ms);
        td_writer_text(w, ",\"values\":{");
        for (v = 0; v < reading->value_count; v++) {
            char number[TD_DOUBLE_CHARS + 1];
            int rc = td_format_double(reading->values[v].value, number, sizeof number, NULL);
            if (rc != TD_OK) return rc;
            if (v > 0) td_writer_text(w, ",");
            td_writer_text(w, "\"");
            td_writer_text(w, reading->values[v].name);
            td_writer_text(w, "\":");
            td_writer_text(w, number);
        }
        td_writer_text(w, "}}");
    }
    td_writer_text(w, "]}");
    return TD_OK;
}

int td_payload_json(const char *device, uint64_t seq, const td_reading *readings, size_t reading_count, char *out,
                    size_t cap, size_t *out_len) {
    td_writer w;
    int rc;
    if (out == NULL) return TD_ERR_INVALID_ARGUMENT;
    td_writer_init(&w, out, cap);
    rc = write_payload(&w, device, seq, readings, reading_count);
    if (rc != TD_OK) return rc;
    return td_writer_finish(&w, out_len);
}

/* Appends "." BASE64URL(signature) over everything written so far (§3 steps 3-5). */
static int sign_and_close(td_writer *w, const td_signer *signer, size_t *out_len) {
    uint8_t signature[TD_SIGNATURE_BYTES];
    if (w->overflow) return td_writer_finish(w, out_len);
    if (signer->sign(signer->ctx, (const uint8_t *)w->out, w->len, signature) != 0) {
        w->out[0] = '\0';
        return TD_ERR_SIGN;
    }
    td_writer_text(w, ".");
    td_writer_b64_begin(w);
    td_writer_bytes(w, signature, sizeof signature);
    td_writer_b64_end(w);
    memset(signature, 0, sizeof signature);
    return td_writer_finish(w, out_len);
}

static void begin_compact(td_writer *w, const td_signer *signer, const td_identity *identity, const char *typ) {
    td_writer_b64_begin(w);
    write_header(w, signer->alg, identity, typ);
    td_writer_b64_end(w);
    td_writer_text(w, ".");
}

int td_sign_message(const td_signer *signer, const td_identity *identity, uint64_t seq, const td_reading *readings,
                    size_t reading_count, char *out, size_t cap, size_t *out_len) {
    td_writer w;
    int rc = check_identity(signer, identity);
    if (rc != TD_OK) return rc;
    if (out == NULL) return TD_ERR_INVALID_ARGUMENT;
    td_writer_init(&w, out, cap);
    begin_compact(&w, signer, identity, MESSAGE_TYP);
    td_writer_b64_begin(&w);
    rc = write_payload(&w, identity->device, seq, readings, reading_count);
    if (rc != TD_OK) {
        if (cap > 0) out[0] = '\0';
        return rc;
    }
    td_writer_b64_end(&w);
    return sign_and_close(&w, signer, out_len);
}

int td_sign_compact(const td_signer *signer, const td_identity *identity, const char *typ, const uint8_t *payload,
                    size_t payload_len, char *out, size_t cap, size_t *out_len) {
    td_writer w;
    int rc = check_identity(signer, identity);
    if (rc != TD_OK) return rc;
    if (out == NULL || typ == NULL || (payload == NULL && payload_len > 0)) return TD_ERR_INVALID_ARGUMENT;
    td_writer_init(&w, out, cap);
    begin_compact(&w, signer, identity, typ);
    td_writer_b64_begin(&w);
    td_writer_bytes(&w, payload, payload_len);
    td_writer_b64_end(&w);
    return sign_and_close(&w, signer, out_len);
}

static int is_audience(const char *audience) {
    size_t i;
    if (audience == NULL || audience[0] == '\0') return 0;
    for (i = 0; audience[i] != '\0'; i++) {
        unsigned char c = (unsigned char)audience[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return 0;
    }
    return 1;
}

int td_connect_token(const td_signer *signer, const td_identity *identity, const char *audience, uint64_t iat,
                     uint64_t exp, char *out, size_t cap, size_t *out_len) {
    td_writer w;
    int rc = check_identity(signer, identity);
    if (rc != TD_OK) return rc;
    if (out == NULL || !is_audience(audience) || exp <= iat) return TD_ERR_INVALID_ARGUMENT;
    if (exp > TD_MAX_SAFE_INTEGER) return TD_ERR_RANGE;
    td_writer_init(&w, out, cap);
    begin_compact(&w, signer, identity, CONNECT_TYP);
    /* §4.3: {"sub","aud","iat","exp"}, numbers in seconds since the epoch. */
    td_writer_b64_begin(&w);
    td_writer_text(&w, "{\"sub\":\"");
    td_writer_text(&w, identity->device);
    td_writer_text(&w, "\",\"aud\":\"");
    td_writer_text(&w, audience);
    td_writer_text(&w, "\",\"iat\":");
    td_writer_uint(&w, iat);
    td_writer_text(&w, ",\"exp\":");
    td_writer_uint(&w, exp);
    td_writer_text(&w, "}");
    td_writer_b64_end(&w);
    return sign_and_close(&w, signer, out_len);
}

/* ------------------------------------------------------------------ batch body */

static const char BATCH_OPEN[] = "{\"messages\":[";
static const char BATCH_CLOSE[] = "]}";

void td_batch_init(td_batch *batch, char *out, size_t cap) {
    batch->out = out;
    batch->cap = cap;
    batch->len = 0;
    batch->count = 0;
}

int td_batch_add(td_batch *batch, const char *message, size_t message_len) {
    size_t i, need;
    if (batch == NULL || batch->out == NULL || message == NULL || message_len == 0) return TD_ERR_INVALID_ARGUMENT;
    if (batch->count >= TD_BATCH_MAX_MESSAGES) return TD_ERR_TOO_LARGE;
    /* A compact JWS is base64url and dots: nothing to escape, but refuse anything that would need it. */
    for (i = 0; i < message_len; i++) {
        char c = message[i];
        if (c == '"' || c == '\\' || (unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) return TD_ERR_INVALID_ARGUMENT;
    }
    need = (batch->count == 0 ? sizeof BATCH_OPEN - 1 : 1) + 2 + message_len;
    /* Keep room for the closing "]}" and the NUL, so finish always succeeds. */
    if (batch->len + need + sizeof BATCH_CLOSE > batch->cap) return TD_ERR_BUFFER_TOO_SMALL;
    if (batch->count == 0) {
        memcpy(batch->out, BATCH_OPEN, sizeof BATCH_OPEN - 1);
        batch->len = sizeof BATCH_OPEN - 1;
    } else {
        batch->out[batch->len++] = ',';
    }
    batch->out[batch->len++] = '"';
    memcpy(batch->out + batch->len, message, message_len);
    batch->len += message_len;
    batch->out[batch->len++] = '"';
    batch->count++;
    return TD_OK;
}

int td_batch_finish(td_batch *batch, size_t *out_len) {
    if (batch == NULL || batch->count == 0) return TD_ERR_INVALID_ARGUMENT;
    memcpy(batch->out + batch->len, BATCH_CLOSE, sizeof BATCH_CLOSE);
    batch->len += sizeof BATCH_CLOSE - 1;
    if (out_len != NULL) *out_len = batch->len;
    return TD_OK;
}
