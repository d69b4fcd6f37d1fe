/* dist.c — bert_dist: the job, its parameters and what is the same for
 * every transport (see dist.h). Without MPI (no BERT_USE_MPI) the backend
 * functions here know only a job of one. */
#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

bert_dist_params bert_dist_default_params(void) {
    return (bert_dist_params){.overlap = 1, .compress_bf16 = 0, .checksum_steps = 100, .timeout_s = 300.0};
}

/* The job size a launcher announced in the environment (Open MPI's mpirun,
 * MPICH's Hydra), 1 when none did. */
static long launched_size(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;
        if (v && end != v && !*end && n > 0) return n;
    }
    return 1;
}

bert_status bert_dist_open(const bert_dist_params *p, bert_dist **out, bert_error *err) {
    bert_error_clear(err);
    if (!out) return bert_fail(err, BERT_ERR_INPUT, "bert_dist_open: out is NULL");
    *out = NULL;
    bert_dist_params q = p ? *p : bert_dist_default_params();
    if (q.checksum_steps < 0 || !(q.timeout_s > 0 && q.timeout_s <= 1e6))
        return bert_fail(err, BERT_ERR_INPUT, "distributed parameters: checksum steps >= 0 and a timeout in (0, 1e6] s");
    bert_dist *d = calloc(1, sizeof *d);
    if (!d) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    d->p = q, d->rank = 0, d->size = 1;
    long launched = launched_size();
    bert_status rc = BERT_OK;
    if (launched > 1 && !bert_dist_compiled())
        rc = bert_fail(err, BERT_ERR_UNSUPPORTED,
                       "started as one of %ld processes (mpirun), but this build has no MPI: install Open MPI "
                       "(libopenmpi-dev) and rebuild, or run without mpirun",
                       launched);
    else if (launched > 1 || getenv("OMPI_COMM_WORLD_RANK") || getenv("PMIX_RANK")) /* mpirun, or srun with PMIx */
        rc = dist_backend_open(d, err);
    if (rc == BERT_OK && launched > 1 && d->size != launched) { /* another launcher than this MPI's: each process alone */
        rc = bert_fail(err, BERT_ERR_UNSUPPORTED,
                       "the launcher started %ld processes but MPI sees %d: start bert with this MPI's own mpirun "
                       "(Open MPI)",
                       launched, d->size);
        dist_backend_close(d);
    }
    if (rc != BERT_OK) {
        free(d);
        return rc;
    }
    *out = d;
    return BERT_OK;
}

int bert_dist_rank(const bert_dist *d) { return d ? d->rank : 0; }
int bert_dist_size(const bert_dist *d) { return d ? d->size : 1; }

void bert_dist_close(bert_dist *d) {
    if (!d) return;
    if (d->impl) dist_backend_close(d);
    free(d);
}

void bert_dist_abort(bert_dist *d, int code) {
    if (d && d->impl) dist_backend_abort(d, code);
}

void bert_dist_stats_get(const bert_dist *d, bert_dist_stats *s) {
    if (s) *s = d ? d->stats : (bert_dist_stats){0};
}

void bert_dist_stats_reset(bert_dist *d) {
    if (d) memset(&d->stats, 0, sizeof d->stats);
}

void dist_share_of(const bert_dist *d, int r, int n, int *lo, int *hi) {
    int N = bert_dist_size(d);
    *lo = (int)((long)r * n / N), *hi = (int)((long)(r + 1) * n / N);
}

void dist_share(const bert_dist *d, int n, int *lo, int *hi) { dist_share_of(d, bert_dist_rank(d), n, lo, hi); }

bert_status dist_allgatherv(bert_dist *d, const float *mine, int count, float *all, const int *counts, const int *displs,
                            bert_error *err) {
    static const float none[1] = {0}; /* an empty part sends from here */
    if (!dist_active(d)) {
        if (count > 0 && all + displs[0] != mine) memmove(all + displs[0], mine, sizeof *all * (size_t)count);
        return BERT_OK;
    }
    return dist_backend_allgather_f32(d, count > 0 ? mine : none, count, all, counts, displs, err);
}

bert_status dist_allgather_rows(bert_dist *d, const float *mine, int n, int width, float *all, bert_error *err) {
    static const float none[1] = {0}; /* an empty share sends from here, not from all */
    int lo, hi;
    dist_share(d, n, &lo, &hi);
    if (!dist_active(d)) {
        if (all != mine) memmove(all, mine, sizeof *all * (size_t)(hi - lo) * (size_t)width);
        return BERT_OK;
    }
    if ((long)n * width > 0x7fffffffL) return bert_fail(err, BERT_ERR_INPUT, "gathering %d x %d values: too many", n, width);
    int *counts = malloc(sizeof *counts * 2 * (size_t)d->size);
    if (!counts) return bert_fail(err, BERT_ERR_NOMEM, "out of memory");
    int *displs = counts + d->size;
    for (int r = 0; r < d->size; r++) {
        int a, b;
        dist_share_of(d, r, n, &a, &b);
        counts[r] = (b - a) * width, displs[r] = a * width;
    }
    bert_status rc = dist_backend_allgather_f32(d, hi > lo ? mine : none, (hi - lo) * width, all, counts, displs, err);
    free(counts);
    return rc;
}

void dist_push(bert_dist *d, float *x, size_t n) {
    if (dist_active(d) && n) dist_backend_push(d, x, n);
}

bert_status dist_drain(bert_dist *d, bert_error *err) { return dist_active(d) ? dist_backend_drain(d, err) : BERT_OK; }

bert_status bert_dist_sum(bert_dist *d, double *x, int n, bert_error *err) {
    bert_error_clear(err);
    if (n < 0 || (n && !x)) return bert_fail(err, BERT_ERR_INPUT, "bert_dist_sum: %d values at %p", n, (void *)x);
    return dist_active(d) && n ? dist_backend_sum_f64(d, x, n, err) : BERT_OK;
}

bert_status bert_dist_gather(bert_dist *d, const void *data, size_t len, char **out, size_t *lens, bert_error *err) {
    bert_error_clear(err);
    *out = NULL;
    if (len && !data) return bert_fail(err, BERT_ERR_INPUT, "bert_dist_gather: no data");
    if (dist_active(d)) return dist_backend_gather(d, data, len, out, lens, err);
    if (!(*out = malloc(len ? len : 1))) return bert_fail(err, BERT_ERR_NOMEM, "out of memory gathering %zu bytes", len);
    if (len) memcpy(*out, data, len);
    if (lens) lens[0] = len;
    return BERT_OK;
}

bert_status dist_bcast(bert_dist *d, void *buf, size_t len, bert_error *err) {
    if (!dist_active(d) || len == 0) return BERT_OK;
    if (len > (size_t)1 << 30) return bert_fail(err, BERT_ERR_INPUT, "sharing %zu bytes from rank 0 (at most 1 GiB)", len);
    return dist_backend_bcast(d, buf, (int)len, err);
}

bert_status dist_same_u64(bert_dist *d, uint64_t v, const char *what, bert_error *err) {
    if (!dist_active(d)) return BERT_OK;
    uint64_t lo, hi;
    bert_status rc = dist_backend_minmax_u64(d, v, &lo, &hi, err);
    if (rc == BERT_OK && lo != hi)
        rc = bert_fail(err, BERT_ERR_STATE, "%s differ across the %d ranks (digests %016llx .. %016llx)", what, d->size,
                       (unsigned long long)lo, (unsigned long long)hi);
    return rc;
}

uint64_t dist_digest(const float *x, size_t n) {
    /* FNV-1a over 64-bit words of the bits, four lanes for speed. */
    uint64_t h[4] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL, 0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL};
    const uint32_t *u = (const void *)x;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) h[k] = (h[k] ^ u[i + k]) * 0x100000001b3ULL;
    for (; i < n; i++) h[0] = (h[0] ^ u[i]) * 0x100000001b3ULL;
    return h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7) ^ n;
}

#ifndef BERT_USE_MPI
/* Without MPI every job is a job of one: bert_dist_open never calls these. */
int bert_dist_compiled(void) { return 0; }
bert_status dist_backend_open(bert_dist *d, bert_error *err) {
    (void)d;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "this build has no MPI");
}
void dist_backend_close(bert_dist *d) { (void)d; }
void dist_backend_abort(bert_dist *d, int code) { (void)d, (void)code; }
void dist_backend_push(bert_dist *d, float *x, size_t n) { (void)d, (void)x, (void)n; }
bert_status dist_backend_drain(bert_dist *d, bert_error *err) { return (void)d, (void)err, BERT_OK; }
bert_status dist_backend_sum_f64(bert_dist *d, double *x, int n, bert_error *err) {
    return (void)d, (void)x, (void)n, (void)err, BERT_OK;
}
bert_status dist_backend_minmax_u64(bert_dist *d, uint64_t v, uint64_t *lo, uint64_t *hi, bert_error *err) {
    (void)d, (void)err;
    *lo = *hi = v;
    return BERT_OK;
}
bert_status dist_backend_gather(bert_dist *d, const void *data, size_t len, char **out, size_t *lens, bert_error *err) {
    (void)d, (void)data, (void)len, (void)out, (void)lens;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "this build has no MPI");
}
bert_status dist_backend_bcast(bert_dist *d, void *buf, int len, bert_error *err) {
    (void)d, (void)buf, (void)len;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "this build has no MPI");
}
bert_status dist_backend_allgather_f32(bert_dist *d, const float *mine, int count, float *all, const int *counts,
                                       const int *displs, bert_error *err) {
    (void)d, (void)mine, (void)count, (void)all, (void)counts, (void)displs;
    return bert_fail(err, BERT_ERR_UNSUPPORTED, "this build has no MPI");
}
#endif
