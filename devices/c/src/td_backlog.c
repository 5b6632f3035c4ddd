/*
 * A bounded ring of signed messages awaiting their acknowledgement, over storage the application
 * chooses. Record: a 24-byte header (length, kind, attempts, seq, due time; little-endian) and the
 * message bytes. A record never wraps: when one does not fit before the end, the rest of the area
 * is a gap (marked when a header fits there) and the record starts at offset 0.
 */
#include <string.h>

#include "td_internal.h"

#define HEADER TD_BACKLOG_RECORD_OVERHEAD
#define KIND_WRAP 0u
#define KIND_WAITING 1u
#define KIND_GONE 2u

typedef struct record {
    uint16_t len;
    uint8_t kind;
    uint32_t attempts;
    uint64_t seq;
    uint64_t due_ms;
} record;

static void put_u64(uint8_t *p, uint64_t v) {
    int i;
    for (i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int read_record(const td_backlog *b, uint32_t offset, record *r) {
    uint8_t h[HEADER];
    if (b->storage.read(b->storage.ctx, offset, h, HEADER) != 0) return TD_ERR_STORAGE;
    r->len = (uint16_t)(h[0] | (h[1] << 8));
    r->kind = h[2];
    r->attempts = (uint32_t)get_u64(h + 4) & 0xffffffffu;
    r->seq = get_u64(h + 8);
    r->due_ms = get_u64(h + 16);
    return TD_OK;
}

static int write_record(const td_backlog *b, uint32_t offset, const record *r) {
    uint8_t h[HEADER];
    memset(h, 0, sizeof h);
    h[0] = (uint8_t)(r->len & 0xffu);
    h[1] = (uint8_t)(r->len >> 8);
    h[2] = r->kind;
    h[4] = (uint8_t)(r->attempts);
    h[5] = (uint8_t)(r->attempts >> 8);
    h[6] = (uint8_t)(r->attempts >> 16);
    h[7] = (uint8_t)(r->attempts >> 24);
    put_u64(h + 8, r->seq);
    put_u64(h + 16, r->due_ms);
    return b->storage.write(b->storage.ctx, offset, h, HEADER) == 0 ? TD_OK : TD_ERR_STORAGE;
}

static int save_state(td_backlog *b) {
    if (b->on_state != NULL && b->on_state(b->state_ctx, &b->state) != 0) return TD_ERR_STORAGE;
    return TD_OK;
}

/* Offset of the record at `offset`, past a gap at the end of the area; *gap gets the gap's bytes. */
static int skip_gap(const td_backlog *b, uint32_t offset, record *r, uint32_t *gap) {
    uint32_t size = (uint32_t)b->storage.size;
    *gap = 0;
    if (size - offset >= HEADER) {
        int rc = read_record(b, offset, r);
        if (rc != TD_OK) return rc;
        if (r->kind != KIND_WRAP) return (int)offset;
    }
    *gap = size - offset;
    {
        int rc = read_record(b, 0, r);
        if (rc != TD_OK) return rc;
    }
    return 0;
}

/* Calls `visit` on each record from the oldest; stops when it returns non-zero and returns that. */
typedef int (*visitor)(td_backlog *b, uint32_t offset, record *r, void *ctx);

static int each_record(td_backlog *b, visitor visit, void *ctx) {
    uint32_t offset = b->state.tail, i, gap;
    for (i = 0; i < b->state.count; i++) {
        record r;
        int at = skip_gap(b, offset, &r, &gap), rc;
        if (at < 0) return at;
        rc = visit(b, (uint32_t)at, &r, ctx);
        if (rc != 0) return rc;
        offset = (uint32_t)at + HEADER + r.len;
    }
    return 0;
}

/* Removes the oldest record, delivered or not. */
static int pop_oldest(td_backlog *b, int *was_waiting) {
    record r;
    uint32_t gap;
    int at = skip_gap(b, b->state.tail, &r, &gap);
    if (at < 0) return at;
    *was_waiting = r.kind == KIND_WAITING;
    b->state.used -= gap + HEADER + r.len;
    b->state.count--;
    b->state.tail = (uint32_t)at + HEADER + r.len;
    if (b->state.tail >= b->storage.size) b->state.tail = 0;
    if (b->state.count == 0) {
        b->state.head = 0;
        b->state.tail = 0;
        b->state.used = 0;
    }
    return TD_OK;
}

/* Removes delivered and dropped records from the old end, so their room can be reused. */
static int trim(td_backlog *b) {
    while (b->state.count > 0) {
        record r;
        uint32_t gap;
        int was_waiting, at = skip_gap(b, b->state.tail, &r, &gap), rc;
        if (at < 0) return at;
        if (r.kind != KIND_GONE) break;
        rc = pop_oldest(b, &was_waiting);
        if (rc != TD_OK) return rc;
    }
    return TD_OK;
}

static int ram_read(void *ctx, size_t offset, void *buf, size_t len) {
    memcpy(buf, (const uint8_t *)ctx + offset, len);
    return 0;
}

static int ram_write(void *ctx, size_t offset, const void *buf, size_t len) {
    memcpy((uint8_t *)ctx + offset, buf, len);
    return 0;
}

td_backlog_storage td_backlog_ram_storage(uint8_t *buffer, size_t size) {
    td_backlog_storage storage;
    storage.size = size;
    storage.read = ram_read;
    storage.write = ram_write;
    storage.ctx = buffer;
    return storage;
}

int td_backlog_open(td_backlog *backlog, td_backlog_storage storage, const td_backlog_state *restored) {
    if (backlog == NULL || storage.read == NULL || storage.write == NULL) return TD_ERR_INVALID_ARGUMENT;
    if (storage.size < 2u * HEADER || storage.size > 0x7fffffffu) return TD_ERR_INVALID_ARGUMENT;
    memset(backlog, 0, sizeof *backlog);
    backlog->storage = storage;
    if (restored != NULL) {
        if (restored->head >= storage.size || restored->tail >= storage.size || restored->used > storage.size)
            return TD_ERR_INVALID_ARGUMENT;
        backlog->state = *restored;
    }
    return TD_OK;
}

int td_backlog_push(td_backlog *b, uint64_t seq, const char *message, size_t len, uint64_t due_ms) {
    uint32_t size, need, gap;
    record r;
    int rc;
    if (b == NULL || message == NULL || len == 0 || len > 0xffffu) return TD_ERR_INVALID_ARGUMENT;
    size = (uint32_t)b->storage.size;
    need = HEADER + (uint32_t)len;
    if (need > size) return TD_ERR_TOO_LARGE;
    for (;;) {
        uint32_t head = b->state.head;
        gap = head + need > size ? size - head : 0;
        if (size - b->state.used >= gap + need) break;
        {
            int was_waiting;
            rc = pop_oldest(b, &was_waiting);
            if (rc != TD_OK) return rc;
            if (was_waiting) b->evicted++;
        }
    }
    if (gap > 0) {
        if (gap >= HEADER) {
            record marker;
            memset(&marker, 0, sizeof marker);
            marker.kind = KIND_WRAP;
            rc = write_record(b, b->state.head, &marker);
            if (rc != TD_OK) return rc;
        }
        b->state.head = 0;
    }
    r.len = (uint16_t)len;
    r.kind = KIND_WAITING;
    r.attempts = 0;
    r.seq = seq;
    r.due_ms = due_ms;
    if (b->storage.write(b->storage.ctx, b->state.head + HEADER, message, len) != 0) return TD_ERR_STORAGE;
    rc = write_record(b, b->state.head, &r);
    if (rc != TD_OK) return rc;
    b->state.head = (b->state.head + need) % size;
    b->state.used += gap + need;
    b->state.count++;
    return save_state(b);
}

static int count_waiting(td_backlog *b, uint32_t offset, record *r, void *ctx) {
    (void)b;
    (void)offset;
    if (r->kind == KIND_WAITING) (*(uint32_t *)ctx)++;
    return 0;
}

uint32_t td_backlog_pending(const td_backlog *backlog) {
    uint32_t n = 0;
    if (backlog == NULL) return 0;
    each_record((td_backlog *)backlog, count_waiting, &n);
    return n;
}

typedef struct due_search {
    uint64_t now_ms;
    td_backlog_entry *entry;
} due_search;

/* What a search hands back of the record it found at `offset`. */
static void fill_entry(td_backlog_entry *entry, uint32_t offset, const record *r) {
    entry->seq = r->seq;
    entry->due_ms = r->due_ms;
    entry->attempts = r->attempts;
    entry->offset = offset;
    entry->len = r->len;
}

static int find_due(td_backlog *b, uint32_t offset, record *r, void *ctx) {
    due_search *s = (due_search *)ctx;
    (void)b;
    if (r->kind != KIND_WAITING || r->due_ms > s->now_ms) return 0;
    fill_entry(s->entry, offset, r);
    return 1;
}

int td_backlog_next_due(const td_backlog *backlog, uint64_t now_ms, td_backlog_entry *entry) {
    due_search s;
    int rc;
    if (backlog == NULL || entry == NULL) return TD_ERR_INVALID_ARGUMENT;
    s.now_ms = now_ms;
    s.entry = entry;
    rc = each_record((td_backlog *)backlog, find_due, &s);
    if (rc < 0) return rc;
    return rc == 1 ? TD_OK : TD_ERR_NOT_FOUND;
}

typedef struct seq_search {
    uint64_t seq;
    td_backlog_entry *entry;
} seq_search;

static int find_seq(td_backlog *b, uint32_t offset, record *r, void *ctx) {
    seq_search *s = (seq_search *)ctx;
    (void)b;
    if (r->kind != KIND_WAITING || r->seq != s->seq) return 0;
    fill_entry(s->entry, offset, r);
    return 1;
}

int td_backlog_find(const td_backlog *backlog, uint64_t seq, td_backlog_entry *entry) {
    seq_search s;
    int rc;
    if (backlog == NULL || entry == NULL) return TD_ERR_INVALID_ARGUMENT;
    s.seq = seq;
    s.entry = entry;
    rc = each_record((td_backlog *)backlog, find_seq, &s);
    if (rc < 0) return rc;
    return rc == 1 ? TD_OK : TD_ERR_NOT_FOUND;
}

int td_backlog_read(const td_backlog *backlog, const td_backlog_entry *entry, char *out, size_t cap) {
    if (backlog == NULL || entry == NULL || out == NULL) return TD_ERR_INVALID_ARGUMENT;
    if ((size_t)entry->len + 1 > cap) return TD_ERR_BUFFER_TOO_SMALL;
    if (backlog->storage.read(backlog->storage.ctx, entry->offset + HEADER, out, entry->len) != 0)
        return TD_ERR_STORAGE;
    out[entry->len] = '\0';
    return TD_OK;
}

typedef struct seq_change {
    uint64_t seq;
    int gone;         /* 1: mark delivered/dropped; 0: record a send */
    uint64_t due_ms;  /* for a send */
    int found;
} seq_change;

static int change_seq(td_backlog *b, uint32_t offset, record *r, void *ctx) {
    seq_change *c = (seq_change *)ctx;
    int rc;
    if (r->kind != KIND_WAITING || r->seq != c->seq) return 0;
    if (c->gone) {
        r->kind = KIND_GONE;
    } else {
        r->attempts++;
        r->due_ms = c->due_ms;
    }
    rc = write_record(b, offset, r);
    if (rc != TD_OK) return rc;
    c->found = 1;
    /* One seq is one message; a repeated push of the same seq is covered by marking each. */
    return c->gone ? 0 : 1;
}

static int apply(td_backlog *b, seq_change *c) {
    int rc;
    if (b == NULL) return TD_ERR_INVALID_ARGUMENT;
    rc = each_record(b, change_seq, c);
    if (rc < 0) return rc;
    if (!c->found) return TD_ERR_NOT_FOUND;
    if (c->gone) {
        rc = trim(b);
        if (rc != TD_OK) return rc;
    }
    return save_state(b);
}

int td_backlog_sent(td_backlog *backlog, uint64_t seq, uint64_t next_due_ms) {
    seq_change c;
    c.seq = seq;
    c.gone = 0;
    c.due_ms = next_due_ms;
    c.found = 0;
    return apply(backlog, &c);
}

int td_backlog_delivered(td_backlog *backlog, uint64_t seq) {
    seq_change c;
    c.seq = seq;
    c.gone = 1;
    c.due_ms = 0;
    c.found = 0;
    return apply(backlog, &c);
}

int td_backlog_drop(td_backlog *backlog, uint64_t seq) { return td_backlog_delivered(backlog, seq); }
