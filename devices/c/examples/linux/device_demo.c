/*
 * A Linux device built on the library: signs readings, keeps them in the backlog until the node
 * acknowledges them, and sends them over HTTP (libcurl) or MQTT (libmosquitto), resending with
 * backoff and jitter and dropping what the node refuses for good. test/devices/c-example-device.test.ts
 * runs it against a real node; it is also the template for a gateway or a Linux-class sensor.
 *
 *   device_demo --device boiler-7 --kid boiler-7.k1 --alg ES256 --d <JWK d> \
 *               --http http://127.0.0.1:8080 [--batch] [--readings 5] [--per-message 1] \
 *               [--ts 1795867199000] [--seq-file boiler-7.seq] [--twice]
 *   device_demo ... --mqtt 127.0.0.1:1883 [--audience telemetry-ingest] [--ack-timeout 30000]
 *
 * Reading i has ts = ts + i * 1000 and values temperature = 20 + i * 0.1, rssi.dbm = -70 - i.
 * Prints one line per answer and a summary; exits 0 when every message was stored.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <mosquitto.h>

#include "linux_signer.h"

#define MAX_READINGS 200
#define MESSAGE_CAP 4096
#define BACKLOG_BYTES (256u * 1024u)
#define BATCH_CAP (64u * 1024u)

typedef struct options {
    const char *device, *kid, *alg, *d, *http, *mqtt, *seq_file, *audience;
    int batch, twice, readings, per_message, timeout_s;
    uint32_t ack_timeout_ms; /* MQTT: resend when neither an ack nor a notice came within this */
    uint64_t ts;
} options;

typedef struct device {
    options opt;
    linux_key key;
    td_identity identity;
    td_seq seq;
    td_backlog backlog;
    td_backoff backoff;
    int delivered, dropped;
    /* MQTT */
    struct mosquitto *mosq;
    int connected, acks_granted, subscribed, acks_mid, errors_mid;
    uint32_t reconnects; /* failed connection attempts in a row, for the backoff */
    int mids[1024];
    uint64_t mid_seqs[1024];
} device;

static uint8_t backlog_area[BACKLOG_BYTES];
static char message[MESSAGE_CAP];
static char batch_body[BATCH_CAP];
static char answer[8192];
static size_t answer_len;
static char retry_after[32];

static uint64_t monotonic_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static uint64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms) {
    struct timespec t;
    t.tv_sec = ms / 1000u;
    t.tv_nsec = (long)(ms % 1000u) * 1000000L;
    nanosleep(&t, NULL);
}

/* ------------------------------------------------------------------ seq persisted in a file */

static int persist_seq(void *ctx, uint64_t reserved_until) {
    const char *path = (const char *)ctx;
    FILE *f;
    char tmp[512];
    if (path == NULL) return 0;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) return -1;
    fprintf(f, "%llu\n", (unsigned long long)reserved_until);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

static uint64_t read_persisted_seq(const char *path) {
    unsigned long long value = 0;
    FILE *f = path == NULL ? NULL : fopen(path, "r");
    if (f == NULL) return 0;
    if (fscanf(f, "%llu", &value) != 1) value = 0;
    fclose(f);
    return value;
}

/* ------------------------------------------------------------------ answers */

static void settle(device *dev, uint64_t seq, td_outcome outcome, const td_refusal *refusal) {
    size_t i;
    /* Answered: a disconnect must no longer make it due at once (that would skip a notice's retryAfter). */
    for (i = 0; i < sizeof dev->mids / sizeof dev->mids[0]; i++) {
        if (dev->mids[i] != 0 && dev->mid_seqs[i] == seq) dev->mids[i] = 0;
    }
    if (outcome == TD_STORED) {
        if (td_backlog_delivered(&dev->backlog, seq) == TD_OK) dev->delivered++;
    } else if (outcome == TD_DROP) {
        if (td_backlog_drop(&dev->backlog, seq) == TD_OK) dev->dropped++;
        printf("dropped seq %llu: %s\n", (unsigned long long)seq, refusal != NULL ? refusal->code : "?");
    } else {
        td_backlog_entry entry;
        uint32_t attempts = 0;
        uint64_t now = monotonic_ms();
        if (td_backlog_find(&dev->backlog, seq, &entry) == TD_OK) attempts = entry.attempts;
        td_backlog_sent(&dev->backlog, seq,
                        now + td_backoff_ms(&dev->backoff, attempts, randombytes_random(),
                                            refusal != NULL ? refusal->retry_after_s : 0));
        printf("resend seq %llu later: %s\n", (unsigned long long)seq, refusal != NULL ? refusal->code : "no answer");
    }
}

/* ------------------------------------------------------------------ HTTP */

static size_t on_body(char *data, size_t size, size_t count, void *ctx) {
    size_t n = size * count, room = sizeof answer - 1 - answer_len;
    (void)ctx;
    if (n > room) n = room;
    memcpy(answer + answer_len, data, n);
    answer_len += n;
    answer[answer_len] = '\0';
    return size * count;
}

static size_t on_header(char *data, size_t size, size_t count, void *ctx) {
    size_t n = size * count;
    (void)ctx;
    if (n > 12 && strncasecmp(data, "retry-after:", 12) == 0 && n - 12 < sizeof retry_after) {
        memcpy(retry_after, data + 12, n - 12);
        retry_after[n - 12] = '\0';
    }
    return n;
}

static int post(const device *dev, const char *path, const char *type, const char *body, size_t len) {
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    char url[512], content_type[64];
    long status = 0;
    answer_len = 0;
    answer[0] = '\0';
    retry_after[0] = '\0';
    snprintf(url, sizeof url, "%s%s", dev->opt.http, path);
    snprintf(content_type, sizeof content_type, "content-type: %s", type);
    headers = curl_slist_append(headers, content_type);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return (int)status;
}

/* The refusal an HTTP error answer carries, with Retry-After from the header. */
static void http_refusal(int status, td_refusal *refusal) {
    if (td_parse_http_error(answer, answer_len, refusal) != TD_OK) {
        memset(refusal, 0, sizeof *refusal);
        snprintf(refusal->code, sizeof refusal->code, "HTTP %d", status);
    }
    td_parse_retry_after(retry_after, strlen(retry_after), &refusal->retry_after_s);
}

static void http_send_one(device *dev, const td_backlog_entry *entry) {
    td_refusal refusal;
    int status;
    td_backlog_read(&dev->backlog, entry, message, sizeof message);
    status = post(dev, "/v1/messages", "application/jose", message, entry->len);
    printf("POST /v1/messages seq %llu: %d\n", (unsigned long long)entry->seq, status);
    http_refusal(status, &refusal);
    settle(dev, entry->seq, td_http_outcome(status), &refusal);
}

/* Sends every due message in one /v1/messages/batch body (as many as fit). */
static void http_send_batch(device *dev) {
    static uint64_t seqs[TD_BATCH_MAX_MESSAGES];
    static td_batch_result results[TD_BATCH_MAX_MESSAGES];
    td_batch batch;
    td_backlog_entry entry;
    td_refusal refusal;
    size_t n = 0, len, count, i;
    uint64_t now = monotonic_ms();
    int status;
    td_batch_init(&batch, batch_body, sizeof batch_body);
    while (n < TD_BATCH_MAX_MESSAGES && td_backlog_next_due(&dev->backlog, now, &entry) == TD_OK) {
        td_backlog_read(&dev->backlog, &entry, message, sizeof message);
        if (td_batch_add(&batch, message, entry.len) != TD_OK) break;
        seqs[n++] = entry.seq;
        /* Not due again until the answer says what to do; the batch's own timeout covers no answer. */
        td_backlog_sent(&dev->backlog, entry.seq, now + TD_ACK_TIMEOUT_MS);
    }
    if (td_batch_finish(&batch, &len) != TD_OK) return;
    status = post(dev, "/v1/messages/batch", "application/json", batch_body, len);
    printf("POST /v1/messages/batch with %u messages: %d\n", (unsigned)n, status);
    if (status == 200 && td_parse_batch_results(answer, answer_len, results, n, &count) == TD_OK && count == n) {
        for (i = 0; i < n; i++) settle(dev, seqs[i], results[i].outcome, &results[i].refusal);
        return;
    }
    http_refusal(status, &refusal);
    for (i = 0; i < n; i++) settle(dev, seqs[i], status == 200 ? TD_RESEND : td_http_outcome(status), &refusal);
}

/* ------------------------------------------------------------------ MQTT */

static void on_ack_seq(void *ctx, uint64_t seq) {
    device *dev = (device *)ctx;
    printf("ack seq %llu\n", (unsigned long long)seq);
    settle(dev, seq, TD_STORED, NULL);
}

static void on_message(struct mosquitto *mosq, void *ctx, const struct mosquitto_message *msg) {
    device *dev = (device *)ctx;
    const char *topic = msg->topic;
    size_t topic_len = strlen(topic);
    (void)mosq;
    if (topic_len > 5 && strcmp(topic + topic_len - 5, "/acks") == 0) {
        td_parse_ack((const char *)msg->payload, (size_t)msg->payloadlen, on_ack_seq, dev);
    } else if (topic_len > 7 && strcmp(topic + topic_len - 7, "/errors") == 0) {
        td_refusal notice;
        if (td_parse_error_notice((const char *)msg->payload, (size_t)msg->payloadlen, &notice) == TD_OK &&
            notice.has_seq) {
            settle(dev, notice.seq, notice.retryable ? TD_RESEND : TD_DROP, &notice);
        }
    }
}

static void on_connect(struct mosquitto *mosq, void *ctx, int rc) {
    device *dev = (device *)ctx;
    char topic[128];
    printf("CONNACK %d\n", rc);
    if (rc != 0) return;
    dev->connected = 1;
    dev->reconnects = 0;
    dev->subscribed = 0;
    /* Subscribe before publishing, so no ack or notice for our messages is missed. */
    snprintf(topic, sizeof topic, "devices/%s/acks", dev->opt.device);
    mosquitto_subscribe(mosq, &dev->acks_mid, topic, 0);
    snprintf(topic, sizeof topic, "devices/%s/errors", dev->opt.device);
    mosquitto_subscribe(mosq, &dev->errors_mid, topic, 0);
}

static void on_subscribe(struct mosquitto *mosq, void *ctx, int mid, int count, const int *granted) {
    device *dev = (device *)ctx;
    (void)mosq;
    if (mid == dev->acks_mid) {
        /* A node older than PROTOCOL.md §10.3 refuses the filter (0x80): its PUBACK means stored (§10.1). */
        dev->acks_granted = count == 1 && granted[0] != 0x80;
        printf("acks subscription %s\n", dev->acks_granted ? "granted" : "refused: PUBACK means stored");
    }
    dev->subscribed++;
}

static void on_publish(struct mosquitto *mosq, void *ctx, int mid) {
    device *dev = (device *)ctx;
    size_t i;
    (void)mosq;
    for (i = 0; i < sizeof dev->mids / sizeof dev->mids[0]; i++) {
        if (dev->mids[i] == mid) {
            dev->mids[i] = 0;
            /* With end-to-end acks, the PUBACK only frees the slot: the ack decides. */
            if (!dev->acks_granted) settle(dev, dev->mid_seqs[i], TD_STORED, NULL);
            return;
        }
    }
}

static void on_disconnect(struct mosquitto *mosq, void *ctx, int rc) {
    device *dev = (device *)ctx;
    size_t i;
    (void)mosq;
    printf("disconnected (%d)\n", rc);
    dev->connected = 0;
    /* What was published but not acknowledged is due again: MQTT 3.1.1 §4.4 on reconnect. */
    for (i = 0; i < sizeof dev->mids / sizeof dev->mids[0]; i++) {
        if (dev->mids[i] != 0) {
            td_backlog_sent(&dev->backlog, dev->mid_seqs[i], monotonic_ms());
            dev->mids[i] = 0;
        }
    }
}

static int mqtt_connect(device *dev) {
    char host[256], token[2048];
    const char *colon = strrchr(dev->opt.mqtt, ':');
    uint64_t now_s = wall_ms() / 1000u;
    size_t len;
    int rc;
    if (colon == NULL || (size_t)(colon - dev->opt.mqtt) >= sizeof host) return -1;
    memcpy(host, dev->opt.mqtt, (size_t)(colon - dev->opt.mqtt));
    host[colon - dev->opt.mqtt] = '\0';
    /* A token for one hour; a long-running device renews it before exp and reconnects. */
    rc = td_connect_token(&dev->key.signer, &dev->identity, dev->opt.audience, now_s, now_s + 3600u, token,
                          sizeof token, &len);
    if (rc != TD_OK) {
        fprintf(stderr, "token: %s\n", td_status_name(rc));
        return -1;
    }
    mosquitto_username_pw_set(dev->mosq, dev->opt.device, token);
    return mosquitto_connect(dev->mosq, host, atoi(colon + 1), 30);
}

static void mqtt_publish_due(device *dev) {
    td_backlog_entry entry;
    uint64_t now = monotonic_ms();
    char topic[128];
    snprintf(topic, sizeof topic, "devices/%s/messages", dev->opt.device);
    while (td_backlog_next_due(&dev->backlog, now, &entry) == TD_OK) {
        size_t i, slot = sizeof dev->mids / sizeof dev->mids[0];
        int mid = 0;
        for (i = 0; i < sizeof dev->mids / sizeof dev->mids[0]; i++) {
            if (dev->mids[i] == 0) {
                slot = i;
                break;
            }
        }
        if (slot == sizeof dev->mids / sizeof dev->mids[0]) return;
        td_backlog_read(&dev->backlog, &entry, message, sizeof message);
        if (mosquitto_publish(dev->mosq, &mid, topic, entry.len, message, 1, 0) != MOSQ_ERR_SUCCESS) return;
        dev->mids[slot] = mid;
        dev->mid_seqs[slot] = entry.seq;
        /* Due again when neither an ack nor an error notice came within the ack timeout (and the backoff). */
        td_backlog_sent(&dev->backlog, entry.seq,
                        td_ack_deadline_ms(&dev->backoff, now, entry.attempts, dev->opt.ack_timeout_ms,
                                           randombytes_random()));
        printf("PUBLISH seq %llu\n", (unsigned long long)entry.seq);
    }
}

/* ------------------------------------------------------------------ the run */

static int sign_all(device *dev, char (*signed_messages)[MESSAGE_CAP], uint64_t *seqs, size_t *lens) {
    static td_value values[MAX_READINGS][2];
    static td_reading readings[MAX_READINGS];
    int i, count = 0;
    for (i = 0; i < dev->opt.readings; i++) {
        values[i][0].name = "temperature";
        values[i][0].value = 20 + i * 0.1;
        values[i][1].name = "rssi.dbm";
        values[i][1].value = -70 - i;
        readings[i].ts_ms = dev->opt.ts + (uint64_t)i * 1000u;
        readings[i].values = values[i];
        readings[i].value_count = 2;
    }
    for (i = 0; i < dev->opt.readings; i += dev->opt.per_message) {
        size_t n = (size_t)(dev->opt.readings - i < dev->opt.per_message ? dev->opt.readings - i : dev->opt.per_message);
        int rc = td_seq_next(&dev->seq, &seqs[count]);
        if (rc == TD_OK)
            rc = td_sign_message(&dev->key.signer, &dev->identity, seqs[count], &readings[i], n,
                                 signed_messages[count], MESSAGE_CAP, &lens[count]);
        if (rc != TD_OK) {
            fprintf(stderr, "signing: %s\n", td_status_name(rc));
            return -1;
        }
        count++;
    }
    return count;
}

static int deliver(device *dev) {
    uint64_t deadline = monotonic_ms() + (uint64_t)dev->opt.timeout_s * 1000u;
    while (td_backlog_pending(&dev->backlog) > 0 && monotonic_ms() < deadline) {
        if (dev->opt.http != NULL) {
            td_backlog_entry entry;
            if (dev->opt.batch) {
                http_send_batch(dev);
            } else if (td_backlog_next_due(&dev->backlog, monotonic_ms(), &entry) == TD_OK) {
                http_send_one(dev, &entry);
            } else {
                sleep_ms(50);
            }
        } else {
            if (dev->connected && dev->subscribed >= 2) mqtt_publish_due(dev);
            if (mosquitto_loop(dev->mosq, 50, 1) != MOSQ_ERR_SUCCESS) {
                sleep_ms(td_backoff_ms(&dev->backoff, dev->reconnects++, randombytes_random(), 0));
                dev->connected = 0;
                if (mqtt_connect(dev) != MOSQ_ERR_SUCCESS) printf("connect failed, retrying\n");
            }
        }
    }
    return td_backlog_pending(&dev->backlog) == 0 ? 0 : -1;
}

static int parse_options(int argc, char **argv, options *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->readings = 3;
    o->per_message = 1;
    o->timeout_s = 60;
    o->ack_timeout_ms = TD_ACK_TIMEOUT_MS;
    o->audience = TD_DEFAULT_AUDIENCE;
    o->ts = wall_ms() - 60000u;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--batch") == 0) o->batch = 1;
        else if (strcmp(a, "--twice") == 0) o->twice = 1;
        else if (v == NULL) return -1;
        else if (strcmp(a, "--device") == 0) o->device = argv[++i];
        else if (strcmp(a, "--kid") == 0) o->kid = argv[++i];
        else if (strcmp(a, "--alg") == 0) o->alg = argv[++i];
        else if (strcmp(a, "--d") == 0) o->d = argv[++i];
        else if (strcmp(a, "--http") == 0) o->http = argv[++i];
        else if (strcmp(a, "--mqtt") == 0) o->mqtt = argv[++i];
        else if (strcmp(a, "--seq-file") == 0) o->seq_file = argv[++i];
        else if (strcmp(a, "--audience") == 0) o->audience = argv[++i];
        else if (strcmp(a, "--readings") == 0) o->readings = atoi(argv[++i]);
        else if (strcmp(a, "--per-message") == 0) o->per_message = atoi(argv[++i]);
        else if (strcmp(a, "--timeout") == 0) o->timeout_s = atoi(argv[++i]);
        else if (strcmp(a, "--ack-timeout") == 0) o->ack_timeout_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--ts") == 0) o->ts = strtoull(argv[++i], NULL, 10);
        else return -1;
    }
    if (o->device == NULL || o->kid == NULL || o->alg == NULL || o->d == NULL) return -1;
    if ((o->http == NULL) == (o->mqtt == NULL)) return -1;
    if (o->readings < 1 || o->readings > MAX_READINGS || o->per_message < 1) return -1;
    return 0;
}

int main(int argc, char **argv) {
    static device dev;
    static char signed_messages[MAX_READINGS][MESSAGE_CAP];
    static uint64_t seqs[MAX_READINGS];
    static size_t lens[MAX_READINGS];
    int count, round, rc = 0, i;
    if (parse_options(argc, argv, &dev.opt) != 0) {
        fprintf(stderr, "usage: see the comment at the top of device_demo.c\n");
        return 2;
    }
    if (linux_key_load(&dev.key, dev.opt.alg, dev.opt.d) != TD_OK) {
        fprintf(stderr, "cannot load the key\n");
        return 2;
    }
    dev.identity.device = dev.opt.device;
    dev.identity.kid = dev.opt.kid;
    dev.identity.credential = NULL;
    dev.backoff.base_ms = 200;
    dev.backoff.cap_ms = 5000;
    td_seq_init(&dev.seq, read_persisted_seq(dev.opt.seq_file), 100, persist_seq, (void *)dev.opt.seq_file);
    td_backlog_open(&dev.backlog, td_backlog_ram_storage(backlog_area, sizeof backlog_area), NULL);
    count = sign_all(&dev, signed_messages, seqs, lens);
    if (count < 0) return 1;
    if (dev.opt.http != NULL) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
    } else {
        mosquitto_lib_init();
        dev.mosq = mosquitto_new(dev.opt.device, true, &dev);
        mosquitto_connect_callback_set(dev.mosq, on_connect);
        mosquitto_disconnect_callback_set(dev.mosq, on_disconnect);
        mosquitto_subscribe_callback_set(dev.mosq, on_subscribe);
        mosquitto_publish_callback_set(dev.mosq, on_publish);
        mosquitto_message_callback_set(dev.mosq, on_message);
        if (mqtt_connect(&dev) != MOSQ_ERR_SUCCESS) printf("connect failed, retrying\n");
    }
    /* --twice: once everything is stored, send the very same bytes again; the node stores nothing twice (§8). */
    for (round = 0; round < (dev.opt.twice ? 2 : 1) && rc == 0; round++) {
        for (i = 0; i < count; i++) td_backlog_push(&dev.backlog, seqs[i], signed_messages[i], lens[i], 0);
        rc = deliver(&dev);
    }
    if (dev.mosq != NULL) {
        mosquitto_disconnect(dev.mosq);
        mosquitto_destroy(dev.mosq);
        mosquitto_lib_cleanup();
    } else {
        curl_global_cleanup();
    }
    linux_key_free(&dev.key);
    printf("messages %d, stored %d, dropped %d, evicted %u, pending %u\n", count * (dev.opt.twice ? 2 : 1),
           dev.delivered, dev.dropped, dev.backlog.evicted, td_backlog_pending(&dev.backlog));
    return rc == 0 && dev.dropped == 0 ? 0 : 1;
}
