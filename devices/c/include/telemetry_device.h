/*
 * telemetry_device.h: build, sign and keep track of signed telemetry messages on a device.
 *
 * Implements the device side of docs/PROTOCOL.md (protocol version 1) in portable C99:
 * no heap allocation, no global state, no I/O. Every function writes into buffers the
 * caller provides and checks their size; the application sends the bytes with its own
 * transport (esp-mqtt, lwIP, Zephyr, libcurl, ...). See devices/c/README.md.
 */
#ifndef TELEMETRY_DEVICE_H
#define TELEMETRY_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */

/** Every function returns TD_OK (0) or one of these negative codes. */
enum td_status {
    TD_OK = 0,
    TD_ERR_BUFFER_TOO_SMALL = -1, /* the output buffer cannot hold the result; nothing usable was written */
    TD_ERR_INVALID_ARGUMENT = -2, /* NULL where a value is needed, no readings, no values, ... */
    TD_ERR_NAME = -3,             /* a device id, metric name or kid outside PROTOCOL.md §2.3 */
    TD_ERR_NOT_FINITE = -4,       /* a value is NaN or infinite: JSON has no such number */
    TD_ERR_RANGE = -5,            /* seq or ts above 2^53 - 1 */
    TD_ERR_SIGN = -6,             /* the signer failed */
    TD_ERR_PARSE = -7,            /* an answer from the node is not what the protocol says */
    TD_ERR_PERSIST = -8,          /* a persistence callback failed; nothing was handed out */
    TD_ERR_TOO_LARGE = -9,        /* a message is larger than the whole backlog */
    TD_ERR_NOT_FOUND = -10,       /* no backlog entry has this seq / nothing is due */
    TD_ERR_STORAGE = -11          /* a backlog storage callback failed */
};

/** A short constant name for a td_status ("TD_ERR_BUFFER_TOO_SMALL"), for logs. */
const char *td_status_name(int status);

/* ------------------------------------------------------------------ limits and sizes */

/** Largest integer a node reads exactly (2^53 - 1), the upper bound of seq (PROTOCOL.md §2.2). */
#define TD_MAX_SAFE_INTEGER 9007199254740991ULL
/** Bytes of an ES256 (R || S) or Ed25519 signature. */
#define TD_SIGNATURE_BYTES 64
/** Characters of a base64url-encoded signature. */
#define TD_SIGNATURE_B64_CHARS 86
/** Characters of base64url (no padding) for n bytes. */
#define TD_B64URL_LEN(n) (((n) / 3u) * 4u + (((n) % 3u) == 0u ? 0u : ((n) % 3u) + 1u))
/** Longest text td_format_double writes, without the terminating NUL ("-2.2250738585072014e-308"). */
#define TD_DOUBLE_CHARS 24
/**
 * An upper bound for the JSON payload of `readings` readings holding `values` values in all, with
 * names of at most `name_chars` characters: use it to size buffers at compile time.
 */
#define TD_PAYLOAD_MAX(device_chars, readings, values, name_chars)                                 \
    (48u + (device_chars) + 16u + (readings) * 36u + (values) * ((name_chars) + 4u + TD_DOUBLE_CHARS))
/** An upper bound for the protected header JSON, with a kid (or credential) of `id_chars` characters. */
#define TD_HEADER_MAX(id_chars) (46u + (id_chars))
/** An upper bound for the claims JSON of a connection token. */
#define TD_TOKEN_CLAIMS_MAX(device_chars, audience_chars) (65u + (device_chars) + (audience_chars))
/**
 * An upper bound for a compact JWS, its terminating NUL included, whose header and payload JSON have at
 * most these lengths: TD_MESSAGE_MAX(TD_HEADER_MAX(kid), TD_PAYLOAD_MAX(...)) sizes a message buffer.
 */
#define TD_MESSAGE_MAX(header_chars, payload_chars)                                                 \
    (TD_B64URL_LEN(header_chars) + 1u + TD_B64URL_LEN(payload_chars) + 1u + TD_SIGNATURE_B64_CHARS + 1u)

/* ------------------------------------------------------------------ encoding */

/**
 * Base64url without padding (RFC 4648 §5, RFC 7515 §2). Writes TD_B64URL_LEN(len) characters
 * and a NUL; *out_len gets the characters without the NUL.
 */
int td_base64url_encode(const uint8_t *data, size_t len, char *out, size_t cap, size_t *out_len);
/** Decodes base64url without padding (to read a JWK's `d`, say). */
int td_base64url_decode(const char *text, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/**
 * Writes `value` as the shortest JSON number that reads back as the same double
 * ("21.5", "0.1", "-71", "1e+300"). NaN and infinities are TD_ERR_NOT_FINITE.
 * `out` needs TD_DOUBLE_CHARS + 1 bytes. Uses snprintf("%.*g") and strtod: on newlib-nano,
 * link with -u _printf_float; the C locale's decimal point is assumed.
 */
int td_format_double(double value, char *out, size_t cap, size_t *out_len);

/** 1 if `id` is a device id of PROTOCOL.md §2.3, else 0. */
int td_is_device_id(const char *id);
/** 1 if `name` is a metric name of PROTOCOL.md §2.3, else 0. */
int td_is_metric_name(const char *name);
/** 1 if `kid` is a key id of PROTOCOL.md §2.3, else 0. */
int td_is_key_id(const char *kid);

/* ------------------------------------------------------------------ signing */

typedef enum { TD_ES256 = 0, TD_EDDSA = 1 } td_alg;

/** "ES256" or "EdDSA". */
const char *td_alg_name(td_alg alg);

/**
 * Signs bytes with the device's key. `sign` writes the 64-byte signature: for ES256 the raw
 * R || S (RFC 7518 §3.4, not DER) of ECDSA P-256 over SHA-256 of `input`; for EdDSA the
 * Ed25519 signature of `input` itself (RFC 8037). It returns 0 on success. A secure element
 * plugs in here: put its handle in `ctx` and convert its DER output to R || S.
 */
typedef struct td_signer {
    td_alg alg;
    int (*sign)(void *ctx, const uint8_t *input, size_t input_len, uint8_t signature[TD_SIGNATURE_BYTES]);
    void *ctx;
} td_signer;

/**
 * Who signs: the device id, and either `kid` (registry mode, PROTOCOL.md §4.1) or `credential`
 * (a device credential JWT, §4.2; when set, it goes in the `dcr` header and `kid` is not sent).
 */
typedef struct td_identity {
    const char *device;
    const char *kid;
    const char *credential;
} td_identity;

/* ------------------------------------------------------------------ messages */

/** One value of a reading: a metric name (§2.3) and a finite number. */
typedef struct td_value {
    const char *name;
    double value;
} td_value;

/** One reading: milliseconds since the Unix epoch (UTC) and 1..64 values. */
typedef struct td_reading {
    uint64_t ts_ms;
    const td_value *values;
    size_t value_count;
} td_reading;

/**
 * Writes the payload JSON of §2.2, {"v":1,"device":...,"seq":...,"readings":[...]}, NUL-terminated.
 * Mostly for logs and tests: td_sign_message writes it straight into the message.
 */
int td_payload_json(const char *device, uint64_t seq, const td_reading *readings, size_t reading_count,
                    char *out, size_t cap, size_t *out_len);

/**
 * Builds and signs one message (§3): BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature),
 * NUL-terminated, in `out`. The payload is encoded while it is written: no second buffer is needed.
 * On TD_ERR_BUFFER_TOO_SMALL, size `out` with TD_MESSAGE_MAX / TD_PAYLOAD_MAX.
 *
 *   td_value values[] = {{"temperature", 21.5}, {"humidity", 40.25}};
 *   td_reading reading = {1795867199000ULL, values, 2};
 *   char message[512]; size_t len;
 *   int rc = td_sign_message(&signer, &identity, seq, &reading, 1, message, sizeof message, &len);
 */
int td_sign_message(const td_signer *signer, const td_identity *identity, uint64_t seq,
                    const td_reading *readings, size_t reading_count, char *out, size_t cap, size_t *out_len);

/**
 * Signs a payload the caller already has as JSON bytes, under a header built from `typ` and the
 * identity ({"alg":...,"typ":...,"kid"|"dcr":...}). The payload is not checked.
 */
int td_sign_compact(const td_signer *signer, const td_identity *identity, const char *typ, const uint8_t *payload,
                    size_t payload_len, char *out, size_t cap, size_t *out_len);

/** Default `aud` of a connection token (TELEMETRY_TOKEN_AUDIENCE). */
#define TD_DEFAULT_AUDIENCE "telemetry-ingest"

/**
 * The MQTT connection token of §4.3: a JWT signed by the device's key, typ "connect+jwt",
 * claims {"sub":device,"aud":audience,"iat":iat,"exp":exp} (seconds since the epoch). Send it as
 * the CONNECT password, with the device id as user name. A node accepts exp - iat up to
 * TELEMETRY_MAX_TOKEN_LIFETIME_SECONDS (default 86400); renew it before exp.
 */
int td_connect_token(const td_signer *signer, const td_identity *identity, const char *audience, uint64_t iat,
                     uint64_t exp, char *out, size_t cap, size_t *out_len);

/* ------------------------------------------------------------------ HTTP batch body (§9.2) */

/** Builds {"messages":["...","..."]} for POST /v1/messages/batch, one message at a time. */
typedef struct td_batch {
    char *out;
    size_t cap;
    size_t len;
    size_t count;
} td_batch;

/** Up to 1000 messages in one batch (§7). */
#define TD_BATCH_MAX_MESSAGES 1000

void td_batch_init(td_batch *batch, char *out, size_t cap);
/**
 * Appends one compact message. TD_ERR_BUFFER_TOO_SMALL (or TD_ERR_TOO_LARGE after 1000) leaves the
 * batch as it was, so the caller sends what it has and starts the next batch with this message.
 */
int td_batch_add(td_batch *batch, const char *message, size_t message_len);
/** Closes the JSON (NUL-terminated) and gives its length. A batch needs at least one message. */
int td_batch_finish(td_batch *batch, size_t *out_len);

/* ------------------------------------------------------------------ what the node answered */

/** What to do with a message after an answer (§9.3, §10, §11). */
typedef enum {
    TD_STORED = 0, /* the node stored it: forget it */
    TD_DROP = 1,   /* refused for good: log the code, never resend these bytes */
    TD_RESEND = 2  /* not stored now: resend the same bytes later (backoff, Retry-After) */
} td_outcome;

/** The outcome of an HTTP status; 0 stands for no answer (timeout, reset): resend. */
td_outcome td_http_outcome(int status);

/** Longest error code the parsers keep ("ERR_TIMESTAMP_OUT_OF_RANGE" and room to spare). */
#define TD_CODE_CHARS 40

/** An error answer: from an HTTP error body, a batch result, or an MQTT error notice. */
typedef struct td_refusal {
    char code[TD_CODE_CHARS + 1]; /* "ERR_STORE_UNAVAILABLE", NUL-terminated */
    int retryable;                /* 1: resend later; 0: drop */
    uint32_t retry_after_s;       /* seconds to wait first, 0 when not given */
    int has_seq;                  /* notices only: 1 when seq is a number, 0 when null or absent */
    uint64_t seq;
} td_refusal;

/** Parses an HTTP error body {"error":{"code":...,"retryable":...}} (§9.1). */
int td_parse_http_error(const char *body, size_t len, td_refusal *out);

/**
 * Parses an MQTT error notice from devices/{device}/errors (§10.1):
 * {"seq":12,"code":"...","message":"...","retryable":false} with retryAfter when retryable.
 */
int td_parse_error_notice(const char *json, size_t len, td_refusal *out);

/**
 * Parses an acknowledgement from devices/{device}/acks: {"seqs":[12,13]}, the seq of each of the
 * device's messages whose readings were stored. Calls `on_seq` once per listed seq, in the order
 * they appear (a seq may repeat). Nothing is called when the payload is not valid.
 */
int td_parse_ack(const char *json, size_t len, void (*on_seq)(void *ctx, uint64_t seq), void *ctx);

/** One result of a batch answer (§9.2). */
typedef struct td_batch_result {
    td_outcome outcome;
    td_refusal refusal; /* when outcome is not TD_STORED */
} td_batch_result;

/**
 * Parses a 200 answer to a batch, {"results":[...]}: results[i] is the result of the i-th
 * message sent. *count gets how many results the answer holds; more than `max` is TD_ERR_BUFFER_TOO_SMALL.
 */
int td_parse_batch_results(const char *body, size_t len, td_batch_result *results, size_t max, size_t *count);

/**
 * Reads a Retry-After header value in delta-seconds ("5"). An HTTP-date or anything else is
 * TD_ERR_PARSE: then use the backoff alone.
 */
int td_parse_retry_after(const char *value, size_t len, uint32_t *seconds);

/* ------------------------------------------------------------------ backoff */

/** Exponential backoff with jitter. Suggested: base 1000 ms, cap 300000 ms. */
typedef struct td_backoff {
    uint32_t base_ms;
    uint32_t cap_ms;
} td_backoff;

/**
 * The wait before attempt number `attempt` (0 for the first resend): a random time between half and
 * all of min(cap, base * 2^attempt) ("equal jitter"), using `random32` from the application's RNG,
 * and never less than `retry_after_s` seconds when the node asked for that.
 */
uint32_t td_backoff_ms(const td_backoff *policy, uint32_t attempt, uint32_t random32, uint32_t retry_after_s);

/** Recommended time to wait for an end-to-end acknowledgement before resending, in ms. */
#define TD_ACK_TIMEOUT_MS 30000u

/**
 * When to publish a message again if neither an ack nor an error notice names it: `now_ms` plus the
 * ack timeout, plus, for a resend (`sends_before` > 0), the backoff of attempt `sends_before - 1`.
 * Pass it to td_backlog_sent right after publishing (sends_before = the entry's attempts).
 */
uint64_t td_ack_deadline_ms(const td_backoff *policy, uint64_t now_ms, uint32_t sends_before, uint32_t ack_timeout_ms,
                            uint32_t random32);

/* ------------------------------------------------------------------ seq */

/**
 * A monotonic seq that survives reboots without a flash write per message: it reserves blocks of
 * `block` numbers and persists the end of the reservation through `persist` before handing out
 * any number of it. After a reboot, td_seq_init with the persisted value starts above every seq
 * the device could have used.
 */
typedef struct td_seq {
    uint64_t next;
    uint64_t reserved_until; /* exclusive: numbers below it are covered by the persisted value */
    uint32_t block;
    int (*persist)(void *ctx, uint64_t reserved_until); /* returns 0 once the value is durable */
    void *ctx;
} td_seq;

/** `persisted`: the last value given to `persist` (0 on first boot). */
int td_seq_init(td_seq *seq, uint64_t persisted, uint32_t block, int (*persist)(void *ctx, uint64_t reserved_until),
                void *ctx);
/** The next seq; TD_ERR_PERSIST (and no number) when a needed reservation could not be persisted. */
int td_seq_next(td_seq *seq, uint64_t *out);

/* ------------------------------------------------------------------ backlog */

/**
 * Where the backlog keeps its bytes: a byte-addressable area of `size` bytes (RAM, FRAM, EEPROM,
 * a file, a wear-levelled flash partition). `read` and `write` return 0 on success.
 * td_backlog_ram_storage() gives one over a RAM buffer.
 */
typedef struct td_backlog_storage {
    size_t size;
    int (*read)(void *ctx, size_t offset, void *buf, size_t len);
    int (*write)(void *ctx, size_t offset, const void *buf, size_t len);
    void *ctx;
} td_backlog_storage;

/** Where the ring stands; persist it (td_backlog.on_state) to find the backlog again after a reboot. */
typedef struct td_backlog_state {
    uint32_t head;  /* offset of the next record to write */
    uint32_t tail;  /* offset of the oldest record */
    uint32_t used;  /* bytes in use, records and wrap gaps */
    uint32_t count; /* records in use, delivered or not */
} td_backlog_state;

/** One message waiting for its acknowledgement. */
typedef struct td_backlog_entry {
    uint64_t seq;
    uint64_t due_ms;   /* when to (re)send it, by the application's clock */
    uint32_t attempts; /* sends so far */
    uint32_t offset;   /* where its record is (for td_backlog_read) */
    uint16_t len;      /* bytes of the message */
} td_backlog_entry;

/**
 * A bounded backlog of unacknowledged messages in a ring. When a new message does not fit, the
 * oldest ones are dropped to make room and counted in `evicted`. Messages leave when
 * td_backlog_delivered (an ack, a PUBACK or 200) or td_backlog_drop (refused for good) names their seq.
 */
typedef struct td_backlog {
    td_backlog_storage storage;
    td_backlog_state state;
    uint32_t evicted;
    /* Called after every change of the state, when set; returns 0 once persisted. */
    int (*on_state)(void *ctx, const td_backlog_state *state);
    void *state_ctx;
} td_backlog;

/** Bytes a record takes besides its message. */
#define TD_BACKLOG_RECORD_OVERHEAD 24u

/** A storage over `size` bytes of RAM at `buffer`. */
td_backlog_storage td_backlog_ram_storage(uint8_t *buffer, size_t size);
/** Opens a backlog; `restored` is a state persisted earlier, or NULL for an empty one. */
int td_backlog_open(td_backlog *backlog, td_backlog_storage storage, const td_backlog_state *restored);
/** Adds a signed message, due at `due_ms` (now, to send it at once). */
int td_backlog_push(td_backlog *backlog, uint64_t seq, const char *message, size_t len, uint64_t due_ms);
/** Messages waiting (not yet delivered or dropped). */
uint32_t td_backlog_pending(const td_backlog *backlog);
/**
 * The oldest waiting message due at or before `now_ms`: TD_OK and *entry, or TD_ERR_NOT_FOUND.
 * Send it, then call td_backlog_sent.
 */
int td_backlog_next_due(const td_backlog *backlog, uint64_t now_ms, td_backlog_entry *entry);
/** The waiting entry with this seq (for its attempts, say), or TD_ERR_NOT_FOUND. */
int td_backlog_find(const td_backlog *backlog, uint64_t seq, td_backlog_entry *entry);
/** Copies an entry's message into `out` (NUL-terminated). */
int td_backlog_read(const td_backlog *backlog, const td_backlog_entry *entry, char *out, size_t cap);
/** Records a send: the entry is due again at `next_due_ms` (now + ack timeout, or now + backoff). */
int td_backlog_sent(td_backlog *backlog, uint64_t seq, uint64_t next_due_ms);
/** The message with this seq was stored (ack, PUBACK, 200): it leaves the backlog. */
int td_backlog_delivered(td_backlog *backlog, uint64_t seq);
/** The message with this seq was refused for good: it leaves the backlog too. */
int td_backlog_drop(td_backlog *backlog, uint64_t seq);

#ifdef __cplusplus
}
#endif

#endif /* TELEMETRY_DEVICE_H */
