/*
 * Reading what a node answers: HTTP statuses and error bodies (§9), batch results (§9.2), MQTT error
 * notices (§10.1) and end-to-end acknowledgements on devices/{device}/acks. A small JSON cursor, no heap.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "td_internal.h"

#define MAX_DEPTH 16

void td_json_ws(td_json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')) j->p++;
}

int td_json_expect(td_json *j, char c) {
    td_json_ws(j);
    if (j->p >= j->end || *j->p != c) return 0;
    j->p++;
    return 1;
}

int td_json_string(td_json *j, char *out, size_t cap) {
    size_t n = 0;
    if (!td_json_expect(j, '"')) return TD_ERR_PARSE;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if ((unsigned char)c < 0x20) return TD_ERR_PARSE;
        if (c == '\\') {
            if (j->p >= j->end) return TD_ERR_PARSE;
            if (out != NULL && n + 1 < cap) out[n++] = c;
            c = *j->p++;
        }
        if (out != NULL) {
            if (n + 1 >= cap) return TD_ERR_BUFFER_TOO_SMALL;
            out[n++] = c;
        }
    }
    if (j->p >= j->end) return TD_ERR_PARSE;
    j->p++;
    if (out != NULL) out[n] = '\0';
    return TD_OK;
}

int td_json_number(td_json *j, double *value) {
    char text[40];
    size_t n = 0;
    char *end;
    td_json_ws(j);
    while (j->p + n < j->end && n < sizeof text - 1) {
        char c = j->p[n];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) break;
        text[n] = c;
        n++;
    }
    if (n == 0 || n == sizeof text - 1) return TD_ERR_PARSE;
    text[n] = '\0';
    *value = strtod(text, &end);
    if (end != text + n || !isfinite(*value)) return TD_ERR_PARSE;
    j->p += n;
    return TD_OK;
}

static int literal(td_json *j, const char *word) {
    size_t n = strlen(word);
    td_json_ws(j);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) return 0;
    j->p += n;
    return 1;
}

int td_json_skip(td_json *j, int depth) {
    double ignored;
    int first = 1, status = TD_OK;
    td_json_ws(j);
    if (j->p >= j->end || depth > MAX_DEPTH) return TD_ERR_PARSE;
    switch (*j->p) {
    case '"': return td_json_string(j, NULL, 0);
    case '{':
        while (td_json_member(j, &first, NULL, 0, &status)) {
            if (td_json_skip(j, depth + 1) != TD_OK) return TD_ERR_PARSE;
        }
        return status;
    case '[':
        j->p++;
        if (td_json_expect(j, ']')) return TD_OK;
        do {
            if (td_json_skip(j, depth + 1) != TD_OK) return TD_ERR_PARSE;
        } while (td_json_expect(j, ','));
        return td_json_expect(j, ']') ? TD_OK : TD_ERR_PARSE;
    case 't': return literal(j, "true") ? TD_OK : TD_ERR_PARSE;
    case 'f': return literal(j, "false") ? TD_OK : TD_ERR_PARSE;
    case 'n': return literal(j, "null") ? TD_OK : TD_ERR_PARSE;
    default: return td_json_number(j, &ignored);
    }
}

int td_json_member(td_json *j, int *first, char *name, size_t cap, int *status) {
    char ignored[2];
    *status = TD_OK;
    if (*first) {
        *first = 0;
        if (!td_json_expect(j, '{')) {
            *status = TD_ERR_PARSE;
            return 0;
        }
        if (td_json_expect(j, '}')) return 0;
    } else {
        if (td_json_expect(j, '}')) return 0;
        if (!td_json_expect(j, ',')) {
            *status = TD_ERR_PARSE;
            return 0;
        }
    }
    /* A name longer than `cap` cannot be one we look for: read it as "" (skipped by the caller). */
    if (name == NULL) {
        name = ignored;
        cap = sizeof ignored;
    }
    {
        td_json save = *j;
        if (td_json_string(j, name, cap) == TD_ERR_BUFFER_TOO_SMALL) {
            *j = save;
            if (td_json_string(j, NULL, 0) != TD_OK) {
                *status = TD_ERR_PARSE;
                return 0;
            }
            name[0] = '\0';
        } else if (j->p == save.p) {
            *status = TD_ERR_PARSE;
            return 0;
        }
    }
    if (!td_json_expect(j, ':')) {
        *status = TD_ERR_PARSE;
        return 0;
    }
    return 1;
}

static int json_bool(td_json *j, int *value) {
    if (literal(j, "true")) {
        *value = 1;
        return TD_OK;
    }
    if (literal(j, "false")) {
        *value = 0;
        return TD_OK;
    }
    return TD_ERR_PARSE;
}

/* A JSON number that is a whole number in [0, max]. */
static int json_whole(td_json *j, uint64_t max, uint64_t *value) {
    double number;
    if (td_json_number(j, &number) != TD_OK) return TD_ERR_PARSE;
    if (number < 0 || number > (double)max || floor(number) != number) return TD_ERR_PARSE;
    *value = (uint64_t)number;
    return TD_OK;
}

static int at_end(td_json *j) {
    td_json_ws(j);
    return j->p == j->end;
}

/* ------------------------------------------------------------------ outcomes */

td_outcome td_http_outcome(int status) {
    if (status >= 200 && status < 300) return TD_STORED;
    /* §9.3: 408, 429, 503 and 500 (and any 5xx, and no answer at all) mean "not stored now". */
    if (status == 0 || status == 408 || status == 429 || status >= 500) return TD_RESEND;
    return TD_DROP;
}

int td_parse_retry_after(const char *value, size_t len, uint32_t *seconds) {
    size_t i = 0, start;
    uint64_t total = 0;
    if (value == NULL || seconds == NULL) return TD_ERR_INVALID_ARGUMENT;
    while (i < len && (value[i] == ' ' || value[i] == '\t')) i++;
    start = i;
    for (; i < len && value[i] >= '0' && value[i] <= '9'; i++) {
        total = total * 10u + (uint64_t)(value[i] - '0');
        if (total > 86400u * 365u) return TD_ERR_PARSE;
    }
    if (i == start) return TD_ERR_PARSE;
    while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' || value[i] == '\n')) i++;
    if (i != len) return TD_ERR_PARSE;
    *seconds = (uint32_t)total;
    return TD_OK;
}

/* The members a refusal has wherever it appears: code, retryable, retryAfter, seq (others are skipped). */
static int refusal_member(td_json *j, const char *name, td_refusal *out, int *seen_code, int *seen_retryable) {
    if (strcmp(name, "code") == 0) {
        int rc = td_json_string(j, out->code, sizeof out->code);
        if (rc == TD_ERR_BUFFER_TOO_SMALL) return TD_ERR_PARSE;
        *seen_code = 1;
        return rc;
    }
    if (strcmp(name, "retryable") == 0) {
        *seen_retryable = 1;
        return json_bool(j, &out->retryable);
    }
    if (strcmp(name, "retryAfter") == 0) {
        uint64_t seconds;
        if (json_whole(j, 86400u * 365u, &seconds) != TD_OK) {
            /* A fraction of a second: wait the whole second above it. */
            double number;
            if (td_json_number(j, &number) != TD_OK || number < 0 || number > 86400.0 * 365) return TD_ERR_PARSE;
            seconds = (uint64_t)ceil(number);
        }
        out->retry_after_s = (uint32_t)seconds;
        return TD_OK;
    }
    if (strcmp(name, "seq") == 0) {
        if (literal(j, "null")) return TD_OK;
        if (json_whole(j, TD_MAX_SAFE_INTEGER, &out->seq) != TD_OK) return TD_ERR_PARSE;
        out->has_seq = 1;
        return TD_OK;
    }
    return td_json_skip(j, 1);
}

static void refusal_init(td_refusal *out) { memset(out, 0, sizeof *out); }

/* Reads one refusal object; `status_out` gets "accepted"/"rejected" when the object has a status member. */
static int refusal_object(td_json *j, td_refusal *out, char *status_out, size_t status_cap) {
    char name[16];
    int first = 1, status, seen_code = 0, seen_retryable = 0;
    refusal_init(out);
    if (status_out != NULL) status_out[0] = '\0';
    while (td_json_member(j, &first, name, sizeof name, &status)) {
        int rc;
        if (status_out != NULL && strcmp(name, "status") == 0) {
            rc = td_json_string(j, status_out, status_cap);
            if (rc != TD_OK) return TD_ERR_PARSE;
            continue;
        }
        rc = refusal_member(j, name, out, &seen_code, &seen_retryable);
        if (rc != TD_OK) return TD_ERR_PARSE;
    }
    if (status != TD_OK) return status;
    if (status_out != NULL && strcmp(status_out, "accepted") == 0) return TD_OK;
    return seen_code && seen_retryable ? TD_OK : TD_ERR_PARSE;
}

int td_parse_http_error(const char *body, size_t len, td_refusal *out) {
    td_json j;
    char name[8];
    int first = 1, status, found = 0;
    if (body == NULL || out == NULL) return TD_ERR_INVALID_ARGUMENT;
    j.p = body;
    j.end = body + len;
    while (td_json_member(&j, &first, name, sizeof name, &status)) {
        if (strcmp(name, "error") == 0) {
            if (refusal_object(&j, out, NULL, 0) != TD_OK) return TD_ERR_PARSE;
            found = 1;
        } else if (td_json_skip(&j, 1) != TD_OK) {
            return TD_ERR_PARSE;
        }
    }
    if (status != TD_OK || !found || !at_end(&j)) return TD_ERR_PARSE;
    return TD_OK;
}

int td_parse_error_notice(const char *json, size_t len, td_refusal *out) {
    td_json j;
    if (json == NULL || out == NULL) return TD_ERR_INVALID_ARGUMENT;
    j.p = json;
    j.end = json + len;
    if (refusal_object(&j, out, NULL, 0) != TD_OK || !at_end(&j)) {
        refusal_init(out);
        return TD_ERR_PARSE;
    }
    return TD_OK;
}

/* Reads {"seqs":[...]}, calling on_seq for each when `on_seq` is set; run once to check, once to deliver. */
static int ack_pass(const char *json, size_t len, void (*on_seq)(void *ctx, uint64_t seq), void *ctx) {
    td_json j;
    char name[8];
    int first = 1, status, found = 0;
    j.p = json;
    j.end = json + len;
    while (td_json_member(&j, &first, name, sizeof name, &status)) {
        if (strcmp(name, "seqs") != 0) {
            if (td_json_skip(&j, 1) != TD_OK) return TD_ERR_PARSE;
            continue;
        }
        found = 1;
        if (!td_json_expect(&j, '[')) return TD_ERR_PARSE;
        if (td_json_expect(&j, ']')) continue;
        do {
            uint64_t seq;
            if (json_whole(&j, TD_MAX_SAFE_INTEGER, &seq) != TD_OK) return TD_ERR_PARSE;
            if (on_seq != NULL) on_seq(ctx, seq);
        } while (td_json_expect(&j, ','));
        if (!td_json_expect(&j, ']')) return TD_ERR_PARSE;
    }
    if (status != TD_OK || !found || !at_end(&j)) return TD_ERR_PARSE;
    return TD_OK;
}

int td_parse_ack(const char *json, size_t len, void (*on_seq)(void *ctx, uint64_t seq), void *ctx) {
    int rc;
    if (json == NULL || on_seq == NULL) return TD_ERR_INVALID_ARGUMENT;
    rc = ack_pass(json, len, NULL, NULL);
    if (rc != TD_OK) return rc;
    return ack_pass(json, len, on_seq, ctx);
}

int td_parse_batch_results(const char *body, size_t len, td_batch_result *results, size_t max, size_t *count) {
    td_json j;
    char name[8];
    int first = 1, status, found = 0;
    size_t n = 0;
    if (body == NULL || count == NULL || (results == NULL && max > 0)) return TD_ERR_INVALID_ARGUMENT;
    j.p = body;
    j.end = body + len;
    while (td_json_member(&j, &first, name, sizeof name, &status)) {
        if (strcmp(name, "results") != 0) {
            if (td_json_skip(&j, 1) != TD_OK) return TD_ERR_PARSE;
            continue;
        }
        found = 1;
        if (!td_json_expect(&j, '[')) return TD_ERR_PARSE;
        if (td_json_expect(&j, ']')) continue;
        do {
            td_batch_result result;
            char result_status[12];
            if (refusal_object(&j, &result.refusal, result_status, sizeof result_status) != TD_OK) return TD_ERR_PARSE;
            if (strcmp(result_status, "accepted") == 0) {
                result.outcome = TD_STORED;
            } else if (strcmp(result_status, "rejected") == 0) {
                result.outcome = result.refusal.retryable ? TD_RESEND : TD_DROP;
            } else {
                return TD_ERR_PARSE;
            }
            if (n < max) results[n] = result;
            n++;
        } while (td_json_expect(&j, ','));
        if (!td_json_expect(&j, ']')) return TD_ERR_PARSE;
    }
    if (status != TD_OK || !found || !at_end(&j)) return TD_ERR_PARSE;
    *count = n;
    return n > max ? TD_ERR_BUFFER_TOO_SMALL : TD_OK;
}

/* ------------------------------------------------------------------ backoff */

uint32_t td_backoff_ms(const td_backoff *policy, uint32_t attempt, uint32_t random32, uint32_t retry_after_s) {
    uint64_t delay = policy->base_ms == 0 ? 1u : policy->base_ms;
    uint64_t floor_ms = (uint64_t)retry_after_s * 1000u;
    uint64_t half, wait;
    while (attempt-- > 0 && delay < policy->cap_ms) delay *= 2u;
    if (delay > policy->cap_ms) delay = policy->cap_ms;
    /* Equal jitter: half the delay for sure, the other half at random, so devices that failed together spread out. */
    half = delay / 2u;
    wait = half + (uint64_t)random32 % (delay - half + 1u);
    if (wait < floor_ms) wait = floor_ms;
    return wait > 0xffffffffu ? 0xffffffffu : (uint32_t)wait;
}

uint64_t td_ack_deadline_ms(const td_backoff *policy, uint64_t now_ms, uint32_t sends_before, uint32_t ack_timeout_ms,
                            uint32_t random32) {
    uint64_t deadline = now_ms + ack_timeout_ms;
    if (sends_before > 0) deadline += td_backoff_ms(policy, sends_before - 1u, random32, 0);
    return deadline;
}
