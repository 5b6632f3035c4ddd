/* seq: monotonic across reboots, one persisted write per block of numbers (PROTOCOL.md §2.2, §13 step 3). */
#include "td_internal.h"

int td_seq_init(td_seq *seq, uint64_t persisted, uint32_t block, int (*persist)(void *ctx, uint64_t reserved_until),
                void *ctx) {
    if (seq == NULL || persist == NULL || block == 0) return TD_ERR_INVALID_ARGUMENT;
    if (persisted > TD_MAX_SAFE_INTEGER) return TD_ERR_RANGE;
    /* Every number below `persisted` may have been used before the reboot; none above it was. */
    seq->next = persisted;
    seq->reserved_until = persisted;
    seq->block = block;
    seq->persist = persist;
    seq->ctx = ctx;
    return TD_OK;
}

int td_seq_next(td_seq *seq, uint64_t *out) {
    if (seq == NULL || out == NULL) return TD_ERR_INVALID_ARGUMENT;
    if (seq->next >= TD_MAX_SAFE_INTEGER) return TD_ERR_RANGE;
    if (seq->next >= seq->reserved_until) {
        uint64_t until = seq->next + seq->block;
        if (until > TD_MAX_SAFE_INTEGER) until = TD_MAX_SAFE_INTEGER;
        /* Persist first: a reboot after this point starts at `until`, above anything handed out. */
        if (seq->persist(seq->ctx, until) != 0) return TD_ERR_PERSIST;
        seq->reserved_until = until;
    }
    *out = seq->next++;
    return TD_OK;
}
