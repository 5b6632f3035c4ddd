/* Base64url, JSON numbers and the names of PROTOCOL.md §2.3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "td_internal.h"

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *td_status_name(int status) {
    switch (status) {
    case TD_OK: return "TD_OK";
    case TD_ERR_BUFFER_TOO_SMALL: return "TD_ERR_BUFFER_TOO_SMALL";
    case TD_ERR_INVALID_ARGUMENT: return "TD_ERR_INVALID_ARGUMENT";
    case TD_ERR_NAME: return "TD_ERR_NAME";
    case TD_ERR_NOT_FINITE: return "TD_ERR_NOT_FINITE";
    case TD_ERR_RANGE: return "TD_ERR_RANGE";
    case TD_ERR_SIGN: return "TD_ERR_SIGN";
    case TD_ERR_PARSE: return "TD_ERR_PARSE";
    case TD_ERR_PERSIST: return "TD_ERR_PERSIST";
    case TD_ERR_TOO_LARGE: return "TD_ERR_TOO_LARGE";
    case TD_ERR_NOT_FOUND: return "TD_ERR_NOT_FOUND";
    case TD_ERR_STORAGE: return "TD_ERR_STORAGE";
    default: return "TD_ERR_UNKNOWN";
    }
}

/* ------------------------------------------------------------------ the writer */

void td_writer_init(td_writer *w, char *out, size_t cap) {
    w->out = out;
    w->cap = cap;
    w->len = 0;
    w->overflow = 0;
    w->b64 = 0;
    w->carry_len = 0;
}

static void put_char(td_writer *w, char c) {
    /* One byte stays free for the NUL td_writer_finish adds. */
    if (w->len + 1 >= w->cap) {
        w->overflow = 1;
        return;
    }
    w->out[w->len++] = c;
}

static void flush_carry(td_writer *w, int final) {
    const uint8_t *c = w->carry;
    if (w->carry_len == 3) {
        put_char(w, B64URL[c[0] >> 2]);
        put_char(w, B64URL[((c[0] & 0x03) << 4) | (c[1] >> 4)]);
        put_char(w, B64URL[((c[1] & 0x0f) << 2) | (c[2] >> 6)]);
        put_char(w, B64URL[c[2] & 0x3f]);
        w->carry_len = 0;
    } else if (final && w->carry_len == 2) {
        put_char(w, B64URL[c[0] >> 2]);
        put_char(w, B64URL[((c[0] & 0x03) << 4) | (c[1] >> 4)]);
        put_char(w, B64URL[(c[1] & 0x0f) << 2]);
        w->carry_len = 0;
    } else if (final && w->carry_len == 1) {
        put_char(w, B64URL[c[0] >> 2]);
        put_char(w, B64URL[(c[0] & 0x03) << 4]);
        w->carry_len = 0;
    }
}

void td_writer_bytes(td_writer *w, const void *data, size_t len) {
    const uint8_t *bytes = (const uint8_t *)data;
    size_t i;
    for (i = 0; i < len && !w->overflow; i++) {
        if (w->b64) {
            w->carry[w->carry_len++] = bytes[i];
            flush_carry(w, 0);
        } else {
            put_char(w, (char)bytes[i]);
        }
    }
}

void td_writer_text(td_writer *w, const char *text) { td_writer_bytes(w, text, strlen(text)); }

void td_writer_b64_begin(td_writer *w) {
    w->b64 = 1;
    w->carry_len = 0;
}

void td_writer_b64_end(td_writer *w) {
    flush_carry(w, 1);
    w->b64 = 0;
}

void td_writer_uint(td_writer *w, uint64_t value) {
    char digits[21];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    while (n > 0) {
        char c = digits[--n];
        td_writer_bytes(w, &c, 1);
    }
}

int td_writer_finish(td_writer *w, size_t *out_len) {
    if (w->overflow || w->cap == 0) {
        if (w->cap > 0) w->out[0] = '\0';
        return TD_ERR_BUFFER_TOO_SMALL;
    }
    w->out[w->len] = '\0';
    if (out_len != NULL) *out_len = w->len;
    return TD_OK;
}

/* ------------------------------------------------------------------ base64url */

int td_base64url_encode(const uint8_t *data, size_t len, char *out, size_t cap, size_t *out_len) {
    td_writer w;
    if ((data == NULL && len > 0) || out == NULL) return TD_ERR_INVALID_ARGUMENT;
    td_writer_init(&w, out, cap);
    td_writer_b64_begin(&w);
    td_writer_bytes(&w, data, len);
    td_writer_b64_end(&w);
    return td_writer_finish(&w, out_len);
}

static int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

int td_base64url_decode(const char *text, size_t len, uint8_t *out, size_t cap, size_t *out_len) {
    size_t i, n = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (text == NULL || out == NULL || len % 4u == 1u) return TD_ERR_INVALID_ARGUMENT;
    for (i = 0; i < len; i++) {
        int v = b64url_value(text[i]);
        if (v < 0) return TD_ERR_PARSE;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap) return TD_ERR_BUFFER_TOO_SMALL;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (out_len != NULL) *out_len = n;
    return TD_OK;
}

/* ------------------------------------------------------------------ numbers */

int td_format_double(double value, char *out, size_t cap, size_t *out_len) {
    char text[32];
    int precision, n = 0;
    if (out == NULL) return TD_ERR_INVALID_ARGUMENT;
    if (!isfinite(value)) return TD_ERR_NOT_FINITE;
    /* Whole numbers below 2^53 (counts, dBm, most sensor steps) are written without printf at all. */
    if (value == floor(value) && fabs(value) <= 9007199254740991.0) {
        td_writer w;
        td_writer_init(&w, out, cap);
        if (signbit(value)) td_writer_text(&w, "-");
        td_writer_uint(&w, (uint64_t)fabs(value));
        return td_writer_finish(&w, out_len);
    }
    /* The fewest significant digits that read back as the same double; 17 always do (IEEE 754 binary64). */
    for (precision = 1; precision <= 17; precision++) {
        n = snprintf(text, sizeof text, "%.*g", precision, value);
        if (n > 0 && (size_t)n < sizeof text && strtod(text, NULL) == value) break;
    }
    if (n <= 0 || (size_t)n >= sizeof text) return TD_ERR_NOT_FINITE;
    if ((size_t)n + 1 > cap) return TD_ERR_BUFFER_TOO_SMALL;
    memcpy(out, text, (size_t)n + 1);
    if (out_len != NULL) *out_len = (size_t)n;
    return TD_OK;
}

/* ------------------------------------------------------------------ names (§2.3) */

static int is_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

int td_is_device_id(const char *id) {
    size_t i;
    if (id == NULL || !is_alnum(id[0])) return 0;
    for (i = 1; id[i] != '\0'; i++) {
        if (i >= 64) return 0;
        if (!is_alnum(id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-') return 0;
    }
    return 1;
}

int td_is_metric_name(const char *name) {
    size_t i;
    if (name == NULL) return 0;
    if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return 0;
    for (i = 1; name[i] != '\0'; i++) {
        if (i >= 64) return 0;
        if (!is_alnum(name[i]) && name[i] != '_' && name[i] != '.' && name[i] != '-') return 0;
    }
    return 1;
}

int td_is_key_id(const char *kid) {
    size_t i;
    if (kid == NULL || kid[0] == '\0') return 0;
    for (i = 0; kid[i] != '\0'; i++) {
        char c = kid[i];
        if (i >= 128) return 0;
        if (!is_alnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return 0;
    }
    return 1;
}
