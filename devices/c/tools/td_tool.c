/*
 * Signs what test/devices/c-library.test.ts asks for, so the node's own verifier can check the
 * library against test/vectors. One command per call; prints the compact JWS.
 *
 *   td_tool compact <typ> <alg> <d> <device> <kid|-> <dcr|-> <payload-base64url>
 *   td_tool message <alg> <d> <device> <kid|-> <dcr|-> <seq> <ts:name=value,name=value>...
 *   td_tool token   <alg> <d> <device> <kid|-> <dcr|-> <aud> <iat> <exp>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/linux/linux_signer.h"

#define MAX_READINGS 16
#define MAX_VALUES 16

static char out[16384];
static uint8_t payload[8192];
static char names[MAX_READINGS][MAX_VALUES][65];

static const char *optional(const char *arg) { return strcmp(arg, "-") == 0 ? NULL : arg; }

static int parse_reading(char *text, td_reading *reading, td_value *values, char (*value_names)[65]) {
    char *colon = strchr(text, ':'), *item;
    size_t n = 0;
    if (colon == NULL) return TD_ERR_INVALID_ARGUMENT;
    *colon = '\0';
    reading->ts_ms = strtoull(text, NULL, 10);
    for (item = strtok(colon + 1, ","); item != NULL; item = strtok(NULL, ",")) {
        char *eq = strchr(item, '=');
        if (eq == NULL || n >= MAX_VALUES || (size_t)(eq - item) > 64) return TD_ERR_INVALID_ARGUMENT;
        memcpy(value_names[n], item, (size_t)(eq - item));
        value_names[n][eq - item] = '\0';
        values[n].name = value_names[n];
        values[n].value = strtod(eq + 1, NULL);
        n++;
    }
    reading->values = values;
    reading->value_count = n;
    return TD_OK;
}

int main(int argc, char **argv) {
    linux_key key;
    td_identity identity;
    size_t len = 0;
    int rc, first;
    const char *command = argc > 1 ? argv[1] : "";
    first = strcmp(command, "compact") == 0 ? 3 : 2;
    if (argc < first + 4) {
        fprintf(stderr, "usage: see the comment at the top of td_tool.c\n");
        return 2;
    }
    rc = linux_key_load(&key, argv[first], argv[first + 1]);
    if (rc != TD_OK) {
        fprintf(stderr, "cannot load the key: %s\n", td_status_name(rc));
        return 1;
    }
    identity.device = argv[first + 2];
    identity.kid = optional(argv[first + 3]);
    identity.credential = optional(argv[first + 4]);
    if (strcmp(command, "compact") == 0 && argc == 9) {
        size_t payload_len;
        rc = td_base64url_decode(argv[8], strlen(argv[8]), payload, sizeof payload, &payload_len);
        if (rc == TD_OK)
            rc = td_sign_compact(&key.signer, &identity, argv[2], payload, payload_len, out, sizeof out, &len);
    } else if (strcmp(command, "message") == 0 && argc >= 9 && argc - 8 <= MAX_READINGS) {
        static td_reading readings[MAX_READINGS];
        static td_value values[MAX_READINGS][MAX_VALUES];
        int i;
        rc = TD_OK;
        for (i = 8; i < argc && rc == TD_OK; i++) rc = parse_reading(argv[i], &readings[i - 8], values[i - 8], names[i - 8]);
        if (rc == TD_OK)
            rc = td_sign_message(&key.signer, &identity, strtoull(argv[7], NULL, 10), readings, (size_t)(argc - 8), out,
                                 sizeof out, &len);
    } else if (strcmp(command, "token") == 0 && argc == 10) {
        rc = td_connect_token(&key.signer, &identity, argv[7], strtoull(argv[8], NULL, 10),
                              strtoull(argv[9], NULL, 10), out, sizeof out, &len);
    } else {
        fprintf(stderr, "usage: see the comment at the top of td_tool.c\n");
        rc = TD_ERR_INVALID_ARGUMENT;
    }
    linux_key_free(&key);
    if (rc != TD_OK) {
        fprintf(stderr, "%s\n", td_status_name(rc));
        return 1;
    }
    fwrite(out, 1, len, stdout);
    fputc('\n', stdout);
    return 0;
}
