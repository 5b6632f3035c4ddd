/*
 * A sensor on ESP-IDF (v5.1+): Wi-Fi, SNTP time, its ES256 key in NVS, and esp-mqtt with a
 * connection token it signs itself. Readings are signed by the C device library, kept in a RAM
 * backlog until the node acknowledges them end to end, and resent with backoff and jitter.
 *
 * Not built in this repository's CI (no ESP-IDF toolchain there): every library call it makes is
 * covered by devices/c's Linux tests. See README.md for bringing up a first board.
 */
#include <string.h>
#include <sys/time.h>

#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_netif_sntp.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "mqtt_client.h"
#include "nvs.h"
#include "nvs_flash.h"

#include "telemetry_device.h"
#include "telemetry_device_mbedtls.h"

static const char *TAG = "telemetry";

#define TOKEN_LIFETIME_S 3600u
#define TOKEN_RENEW_BEFORE_S 300u
#define SEQ_BLOCK 100u
#define BACKLOG_BYTES (16u * 1024u)

/* Everything the device holds, in one place; the library itself keeps no globals. */
static struct {
    char device[65];
    char kid[129];
    td_mbedtls_es256 key;
    td_signer signer;
    td_identity identity;
    nvs_handle_t nvs;
    td_seq seq;
    td_backlog backlog;
    SemaphoreHandle_t lock; /* the backlog is used by the sensor task and the MQTT task */
    esp_mqtt_client_handle_t mqtt;
    char token[1024];
    uint64_t token_exp;
    int connected;
    int acks_msg_id, subscribed, acks_refused;
    char topic_messages[96], topic_acks[96], topic_errors[96];
} dev;

static uint8_t backlog_area[BACKLOG_BYTES];
static const td_backoff BACKOFF = {1000, 300000};
static EventGroupHandle_t wifi_events;
#define WIFI_UP BIT0

static uint64_t now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static int esp_rng(void *ctx, unsigned char *out, size_t len) {
    (void)ctx;
    esp_fill_random(out, len);
    return 0;
}

/* ------------------------------------------------------------------ identity and seq from NVS */

static int persist_seq(void *ctx, uint64_t reserved_until) {
    (void)ctx;
    if (nvs_set_u64(dev.nvs, "seq", reserved_until) != ESP_OK) return -1;
    return nvs_commit(dev.nvs) == ESP_OK ? 0 : -1;
}

static esp_err_t load_identity(void) {
    uint8_t d[32];
    size_t len;
    uint64_t persisted = 0;
    size_t device_len = sizeof dev.device, kid_len = sizeof dev.kid;
    len = sizeof d;
    if (nvs_open("telemetry", NVS_READWRITE, &dev.nvs) != ESP_OK ||
        nvs_get_str(dev.nvs, "device", dev.device, &device_len) != ESP_OK ||
        nvs_get_str(dev.nvs, "kid", dev.kid, &kid_len) != ESP_OK || nvs_get_blob(dev.nvs, "d", d, &len) != ESP_OK) {
        ESP_LOGE(TAG, "no device identity in NVS namespace \"telemetry\": flash nvs.bin first (README.md)");
        return ESP_FAIL;
    }
    if (len != 32 || td_mbedtls_es256_init(&dev.key, d, esp_rng, NULL) != TD_OK) {
        ESP_LOGE(TAG, "the key in NVS is not a P-256 private key");
        return ESP_FAIL;
    }
    memset(d, 0, sizeof d);
    dev.signer = td_mbedtls_es256_signer(&dev.key);
    dev.identity.device = dev.device;
    dev.identity.kid = dev.kid;
    dev.identity.credential = NULL;
    nvs_get_u64(dev.nvs, "seq", &persisted); /* absent on first boot: 0 */
    if (td_seq_init(&dev.seq, persisted, SEQ_BLOCK, persist_seq, NULL) != TD_OK) return ESP_FAIL;
    snprintf(dev.topic_messages, sizeof dev.topic_messages, "devices/%s/messages", dev.device);
    snprintf(dev.topic_acks, sizeof dev.topic_acks, "devices/%s/acks", dev.device);
    snprintf(dev.topic_errors, sizeof dev.topic_errors, "devices/%s/errors", dev.device);
    return ESP_OK;
}

/* ------------------------------------------------------------------ Wi-Fi and time */

static void on_wifi(void *arg, esp_event_base_t base, int32_t id, void *data) {
    (void)arg;
    (void)data;
    if (base == WIFI_EVENT && (id == WIFI_EVENT_STA_START || id == WIFI_EVENT_STA_DISCONNECTED)) {
        xEventGroupClearBits(wifi_events, WIFI_UP);
        esp_wifi_connect();
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        xEventGroupSetBits(wifi_events, WIFI_UP);
    }
}

static void start_wifi(void) {
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    wifi_config_t config = {0};
    wifi_events = xEventGroupCreate();
    esp_netif_create_default_wifi_sta();
    ESP_ERROR_CHECK(esp_wifi_init(&init));
    ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_wifi, NULL));
    ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_wifi, NULL));
    strncpy((char *)config.sta.ssid, CONFIG_TELEMETRY_WIFI_SSID, sizeof config.sta.ssid);
    strncpy((char *)config.sta.password, CONFIG_TELEMETRY_WIFI_PASSWORD, sizeof config.sta.password);
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &config));
    ESP_ERROR_CHECK(esp_wifi_start());
    xEventGroupWaitBits(wifi_events, WIFI_UP, pdFALSE, pdTRUE, portMAX_DELAY);
}

/* Timestamps are milliseconds since the epoch (PROTOCOL.md §6): no reading before the clock is set. */
static void sync_time(void) {
    esp_sntp_config_t config = ESP_NETIF_SNTP_DEFAULT_CONFIG(CONFIG_TELEMETRY_SNTP_SERVER);
    esp_netif_sntp_init(&config);
    while (esp_netif_sntp_sync_wait(pdMS_TO_TICKS(15000)) != ESP_OK) ESP_LOGW(TAG, "waiting for SNTP");
}

/* ------------------------------------------------------------------ MQTT */

/* A fresh connection token (§4.3), set as the password for the next (re)connect. */
static void renew_token(void) {
    uint64_t iat = now_ms() / 1000u;
    size_t len;
    int rc = td_connect_token(&dev.signer, &dev.identity, CONFIG_TELEMETRY_AUDIENCE, iat, iat + TOKEN_LIFETIME_S,
                              dev.token, sizeof dev.token, &len);
    if (rc != TD_OK) {
        ESP_LOGE(TAG, "connection token: %s", td_status_name(rc));
        return;
    }
    dev.token_exp = iat + TOKEN_LIFETIME_S;
    if (dev.mqtt != NULL) {
        esp_mqtt_client_config_t config = {.credentials.authentication.password = dev.token};
        esp_mqtt_set_config(dev.mqtt, &config);
    }
}

static void on_acked_seq(void *ctx, uint64_t seq) {
    (void)ctx;
    td_backlog_delivered(&dev.backlog, seq);
}

static void handle_answer(const char *topic, int topic_len, const char *data, int data_len) {
    td_refusal notice;
    if (topic_len == (int)strlen(dev.topic_acks) && memcmp(topic, dev.topic_acks, (size_t)topic_len) == 0) {
        td_parse_ack(data, (size_t)data_len, on_acked_seq, NULL);
        return;
    }
    if (td_parse_error_notice(data, (size_t)data_len, &notice) != TD_OK || !notice.has_seq) return;
    if (!notice.retryable) {
        ESP_LOGW(TAG, "seq %llu refused for good: %s", (unsigned long long)notice.seq, notice.code);
        td_backlog_drop(&dev.backlog, notice.seq);
    } else {
        td_backlog_entry entry;
        uint32_t attempts = td_backlog_find(&dev.backlog, notice.seq, &entry) == TD_OK ? entry.attempts : 0;
        td_backlog_sent(&dev.backlog, notice.seq,
                        now_ms() + td_backoff_ms(&BACKOFF, attempts, esp_random(), notice.retry_after_s));
    }
}

static void on_mqtt(void *arg, esp_event_base_t base, int32_t id, void *data) {
    esp_mqtt_event_handle_t event = data;
    (void)arg;
    (void)base;
    switch ((esp_mqtt_event_id_t)id) {
    case MQTT_EVENT_CONNECTED:
        /* Subscribe before publishing, so no ack or notice for our messages is missed. */
        dev.subscribed = 0;
        dev.acks_refused = 0;
        dev.acks_msg_id = esp_mqtt_client_subscribe(dev.mqtt, dev.topic_acks, 0);
        esp_mqtt_client_subscribe(dev.mqtt, dev.topic_errors, 0);
        break;
    case MQTT_EVENT_SUBSCRIBED:
        /* A node older than PROTOCOL.md §10.3 refuses the filter (0x80); its PUBACK means stored (§10.1). */
        if (event->msg_id == dev.acks_msg_id && event->data_len > 0 && (uint8_t)event->data[0] == 0x80)
            dev.acks_refused = 1;
        if (++dev.subscribed == 2) dev.connected = 1;
        break;
    case MQTT_EVENT_DATA:
        /* Acks and notices are small: one fragment. */
        if (event->current_data_offset == 0 && event->data_len == event->total_data_len) {
            xSemaphoreTake(dev.lock, portMAX_DELAY);
            handle_answer(event->topic, event->topic_len, event->data, event->data_len);
            xSemaphoreGive(dev.lock);
        }
        break;
    case MQTT_EVENT_PUBLISHED:
        xSemaphoreTake(dev.lock, portMAX_DELAY);
        on_puback(event->msg_id);
        xSemaphoreGive(dev.lock);
        break;
    case MQTT_EVENT_DISCONNECTED:
        dev.connected = 0;
        /* The node closes the connection when the token expires; the client reconnects with a new one. */
        renew_token();
        break;
    default:
        break;
    }
}

static void start_mqtt(void) {
    esp_mqtt_client_config_t config = {
        .broker.address.uri = CONFIG_TELEMETRY_BROKER_URI,
        .credentials.username = dev.device,
        .credentials.client_id = dev.device,
        .credentials.authentication.password = dev.token,
        .session.keepalive = 60,
    };
    renew_token();
    dev.mqtt = esp_mqtt_client_init(&config);
    esp_mqtt_client_register_event(dev.mqtt, ESP_EVENT_ANY_ID, on_mqtt, NULL);
    esp_mqtt_client_start(dev.mqtt);
}

/* A QoS 1 message in flight: its PUBACK means stored only when the broker sends no end-to-end acks. */
#define IN_FLIGHT 16
static struct {
    int msg_id;
    uint64_t seq;
} in_flight[IN_FLIGHT];

static void on_puback(int msg_id) {
    size_t i;
    for (i = 0; i < IN_FLIGHT; i++) {
        if (in_flight[i].msg_id == msg_id && msg_id > 0) {
            in_flight[i].msg_id = 0;
            if (dev.acks_refused) td_backlog_delivered(&dev.backlog, in_flight[i].seq);
        }
    }
}

/*
 * Publishes every message that is due: new ones, and those whose ack did not come in time. The lock is not
 * held while esp-mqtt publishes: its event handler (on_mqtt) takes the same lock from the MQTT task.
 */
static void publish_due(void) {
    static char message[1024];
    static size_t next_slot;
    for (;;) {
        td_backlog_entry entry;
        uint64_t now = now_ms();
        int msg_id, rc;
        xSemaphoreTake(dev.lock, portMAX_DELAY);
        rc = dev.connected ? td_backlog_next_due(&dev.backlog, now, &entry) : TD_ERR_NOT_FOUND;
        if (rc == TD_OK) rc = td_backlog_read(&dev.backlog, &entry, message, sizeof message);
        /* Due again when neither an ack nor a notice came within the ack timeout (plus the backoff on a resend). */
        if (rc == TD_OK)
            td_backlog_sent(&dev.backlog, entry.seq,
                            td_ack_deadline_ms(&BACKOFF, now, entry.attempts, TD_ACK_TIMEOUT_MS, esp_random()));
        xSemaphoreGive(dev.lock);
        if (rc != TD_OK) return;
        msg_id = esp_mqtt_client_publish(dev.mqtt, dev.topic_messages, message, entry.len, 1, 0);
        if (msg_id < 0) return;
        xSemaphoreTake(dev.lock, portMAX_DELAY);
        in_flight[next_slot].msg_id = msg_id;
        in_flight[next_slot].seq = entry.seq;
        next_slot = (next_slot + 1) % IN_FLIGHT;
        xSemaphoreGive(dev.lock);
    }
}

/* ------------------------------------------------------------------ the sensor */

/* Replace with your sensor; here the Wi-Fi signal and the free heap, which every board has. */
static size_t read_sensor(td_value *values) {
    wifi_ap_record_t ap;
    size_t n = 0;
    if (esp_wifi_sta_get_ap_info(&ap) == ESP_OK) {
        values[n].name = "rssi.dbm";
        values[n++].value = ap.rssi;
    }
    values[n].name = "heap.free_bytes";
    values[n++].value = (double)esp_get_free_heap_size();
    return n;
}

static void sensor_task(void *arg) {
    static char message[1024];
    (void)arg;
    for (;;) {
        td_value values[4];
        td_reading reading;
        uint64_t seq;
        size_t len;
        int rc;
        reading.ts_ms = now_ms();
        reading.values = values;
        reading.value_count = read_sensor(values);
        xSemaphoreTake(dev.lock, portMAX_DELAY);
        rc = td_seq_next(&dev.seq, &seq);
        if (rc == TD_OK) rc = td_sign_message(&dev.signer, &dev.identity, seq, &reading, 1, message, sizeof message, &len);
        if (rc == TD_OK) rc = td_backlog_push(&dev.backlog, seq, message, len, now_ms());
        if (rc != TD_OK) ESP_LOGE(TAG, "reading not kept: %s", td_status_name(rc));
        ESP_LOGI(TAG, "waiting for acks: %u, dropped when full: %u", (unsigned)td_backlog_pending(&dev.backlog),
                 (unsigned)dev.backlog.evicted);
        xSemaphoreGive(dev.lock);
        if (dev.connected && now_ms() / 1000u + TOKEN_RENEW_BEFORE_S >= dev.token_exp) {
            /* Renew before the node closes the connection at exp. */
            renew_token();
            esp_mqtt_client_disconnect(dev.mqtt);
            esp_mqtt_client_reconnect(dev.mqtt);
        }
        publish_due();
        vTaskDelay(pdMS_TO_TICKS(CONFIG_TELEMETRY_PERIOD_SECONDS * 1000));
    }
}

void app_main(void) {
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_LOGE(TAG, "NVS needs erasing; the key would be lost: re-flash nvs.bin (README.md)");
        return;
    }
    ESP_ERROR_CHECK(err);
    if (load_identity() != ESP_OK) return;
    dev.lock = xSemaphoreCreateMutex();
    ESP_ERROR_CHECK(td_backlog_open(&dev.backlog, td_backlog_ram_storage(backlog_area, sizeof backlog_area), NULL) ==
                            TD_OK
                        ? ESP_OK
                        : ESP_FAIL);
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    start_wifi();
    sync_time();
    start_mqtt();
    xTaskCreate(sensor_task, "sensor", 8192, NULL, 5, NULL);
}
