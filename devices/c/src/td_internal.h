/* Shared by the library's sources only; not part of the API. */
#ifndef TD_INTERNAL_H
#define TD_INTERNAL_H

#include "telemetry_device.h"

/*
 * Appends to a caller's buffer, checking room for every byte and keeping one for the NUL.
 * Between td_writer_b64_begin and td_writer_b64_end, bytes are written base64url-encoded,
 * so a payload becomes its encoding without a buffer of its own.
 */
typedef struct td_writer {
    char *out;
    size_t cap;
    size_t len;
    int overflow;
    int b64;
    uint8_t carry[3];
    size_t carry_len;
} td_writer;

void td_writer_init(td_writer *w, char *out, size_t cap);
void td_writer_bytes(td_writer *w, const void *data, size_t len);
void td_writer_text(td_writer *w, const char *text);
void td_writer_uint(td_writer *w, uint64_t value);
void td_writer_b64_begin(td_writer *w);
void td_writer_b64_end(td_writer *w);
int td_writer_finish(td_writer *w, size_t *out_len);

/* A cursor over JSON text that is not NUL-terminated, for the node's answers. */
typedef struct td_json {
    const char *p;
    const char *end;
} td_json;

void td_json_ws(td_json *j);
int td_json_expect(td_json *j, char c);
/* Reads a string; copies it (escapes left as they are) into out when out is not NULL. */
int td_json_string(td_json *j, char *out, size_t cap);
int td_json_number(td_json *j, double *value);
int td_json_skip(td_json *j, int depth);
/* Iterates an object: call with *first = 1; returns 1 with the member name read and the cursor on its value, 0 at '}'. */
int td_json_member(td_json *j, int *first, char *name, size_t cap, int *status);

#endif
