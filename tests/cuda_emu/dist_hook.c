/* dist_hook — data-parallel GPU training with the loop's before_step hook,
 * run under mpirun on the CUDA emulator: the hook takes the gradient block
 * (bert_trainer_gradients, which with NCCL's sums first sums the layers
 * over the ranks) and every rank must see the same block there (the sum
 * over the ranks, not its own share), so the ranks' weights stay equal
 * (the loop compares their digests after every step). 4 steps on the
 * fixture model, batches of 4 sequences cut 2 and 2. Each rank prints "ok"
 * or what failed; exit status 1 on any failure. Public API only. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bert.h"

typedef struct {
    int served;
    int32_t ids[4][6];
    bert_sequence seqs[4];
    float labels[4];
} source;

static bert_status next_batch(void *user, bert_trainer *t, bert_batch *b, bert_error *err) {
    (void)t, (void)err;
    source *s = user;
    *b = (bert_batch){0};
    if (s->served == 4) return BERT_OK; /* no more data */
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 6; k++) s->ids[i][k] = 1 + (s->served * 31 + i * 7 + k * 3) % 20;
        s->seqs[i] = (bert_sequence){s->ids[i], NULL, NULL, 3 + (i + s->served) % 4};
        s->labels[i] = (float)((i + s->served) % 2);
    }
    s->served++;
    *b = (bert_batch){s->seqs, 4, s->labels, 18, s->served / 4.0, s->served == 4};
    return BERT_OK;
}

static int position(void *user, char *json, size_t cap) {
    return snprintf(json, cap, "{\"served\":%d}", ((source *)user)->served) < (int)cap;
}

static bert_status seek(void *user, const char *json, bert_error *err) {
    (void)user, (void)json, (void)err;
    return BERT_OK; /* never resumed */
}

typedef struct {
    bert_dist *d;
    int calls, unequal, null_block;
} hook;

/* Every rank's sum of squares of the block must be the same value. */
static bert_status before_step(void *user, bert_trainer *t, bert_error *err) {
    hook *h = user;
    size_t n = 0;
    float *g = bert_trainer_gradients(t, &n);
    h->calls++;
    if (!g) {
        h->null_block++;
        return BERT_OK;
    }
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    double x[2] = {ss, ss * ss};
    bert_status rc = bert_dist_sum(h->d, x, 2, err);
    int r = bert_dist_size(h->d);
    /* equal values: sum = r ss and sum of squares = r ss^2 */
    if (rc == BERT_OK && !(ss > 0.0 && fabs(x[0] - r * ss) <= 1e-12 * x[0] && fabs(x[1] - r * ss * ss) <= 1e-12 * x[1]))
        h->unequal++;
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: dist_hook MODEL_DIR OUTPUT_DIR\n");
        return 2;
    }
    bert_dist_params dp = bert_dist_default_params();
    dp.checksum_steps = 1;
    bert_dist *d = NULL;
    bert_error err = {0};
    if (bert_dist_open(&dp, &d, &err) != BERT_OK) {
        printf("open: %s\n", err.message);
        return 1;
    }
    bert_train_params p = bert_train_default_params();
    p.num_labels = 2, p.lr = 1e-3, p.total_steps = 4, p.seed = 3, p.n_threads = 1;
    p.dist = d, p.device = BERT_DEVICE_CUDA;
    bert_trainer *t = NULL;
    bert_status rc = bert_trainer_open(argv[1], &p, &t, NULL, &err);
    source s = {0};
    hook h = {d, 0, 0, 0};
    if (rc == BERT_OK) {
        bert_train_source src = {&s, next_batch, position, seek, NULL};
        bert_loop_params lp = bert_loop_default_params();
        lp.output_dir = argv[2];
        lp.log_steps = 1;
        lp.before_step = before_step, lp.before_step_user = &h;
        rc = bert_train_loop(t, &src, &lp, NULL, &err);
    }
    int r = bert_dist_rank(d), bad = rc != BERT_OK || h.calls != 4 || h.unequal || h.null_block;
    if (rc != BERT_OK) printf("rank %d: FAILED %s\n", r, err.message);
    if (h.calls != 4 || h.unequal || h.null_block)
        printf("rank %d: FAILED %d hook calls, %d with other ranks' blocks unequal, %d without a block\n", r, h.calls,
               h.unequal, h.null_block);
    if (!bad) printf("ok\n");
    fflush(stdout);
    bert_trainer_free(t);
    bert_dist_close(d);
    return bad;
}
