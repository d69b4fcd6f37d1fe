/* dist_check — the collectives of bert_dist, run under mpirun -np N:
 * bert_dist_sum adds every rank's values; dist_same_u64 passes equal
 * values and refuses different ones with BERT_ERR_STATE; bert_dist_gather
 * brings every rank's bytes to rank 0 in rank order; dist_share cuts n
 * items into contiguous shares that cover them; dist_bcast hands rank 0's
 * bytes to every rank; gradient buckets pushed
 * while others travel all arrive summed. Each rank prints "ok" or what
 * failed; the exit status is 1 on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"

static int failures;

static void check(int cond, int rank, const char *what) {
    if (!cond) printf("rank %d: FAILED %s\n", rank, what), failures++;
}

int main(void) {
    bert_dist *d = NULL;
    bert_error err;
    if (bert_dist_open(NULL, &d, &err) != BERT_OK) {
        printf("open: %s\n", err.message);
        return 1;
    }
    int r = bert_dist_rank(d), n = bert_dist_size(d);
    double x[2] = {r + 1.0, 1.0};
    check(bert_dist_sum(d, x, 2, &err) == BERT_OK && x[0] == n * (n + 1) / 2.0 && x[1] == n, r, "sum");
    check(dist_same_u64(d, 42, "the test values", &err) == BERT_OK, r, "equal digests pass");
    bert_status rc = dist_same_u64(d, (uint64_t)r, "the test values", &err);
    check(n == 1 || (rc == BERT_ERR_STATE && strstr(err.message, "the test values differ across")), r, "different digests fail");
    char mine[32], *all = NULL;
    size_t lens[64];
    int len = snprintf(mine, sizeof mine, "<%d>", r);
    check(bert_dist_gather(d, mine, (size_t)len, &all, lens, &err) == BERT_OK, r, "gather");
    if (r == 0 && all) {
        char want[512] = "";
        for (int k = 0; k < n; k++) snprintf(want + strlen(want), sizeof want - strlen(want), "<%d>", k);
        check(memcmp(all, want, strlen(want)) == 0 && lens[0] == 3, r, "gather order");
    }
    check(r == 0 || all == NULL, r, "only rank 0 receives");
    free(all);
    int covered = 0, lo, hi;
    for (int k = 0; k < 7; k++) {
        dist_share(d, k, &lo, &hi);
        double c = hi - lo;
        bert_dist_sum(d, &c, 1, &err);
        covered += c == k && lo <= hi && hi - lo <= k / n + 1;
    }
    check(covered == 7, r, "shares cover the items");
    unsigned char b[129];
    for (int i = 0; i < 129; i++) b[i] = (unsigned char)(r == 0 ? i * 7 + 1 : 0);
    int same = dist_bcast(d, b, sizeof b, &err) == BERT_OK;
    for (int i = 0; i < 129; i++) same &= b[i] == (unsigned char)(i * 7 + 1);
    check(same, r, "rank 0's bytes everywhere");
    float g[3000];
    for (int i = 0; i < 3000; i++) g[i] = (float)(r + i);
    dist_push(d, g, 1000), dist_push(d, g + 1000, 2000);
    check(dist_drain(d, &err) == BERT_OK, r, "buckets");
    int sums = 1;
    for (int i = 0; i < 3000; i++) sums &= g[i] == (float)(n * i + n * (n - 1) / 2);
    check(sums, r, "bucket sums");
    if (!failures) printf("ok\n");
    fflush(stdout);
    bert_dist_close(d);
    return failures != 0;
}
