/* sampler.c — task sampling for multi-task runs (see sampler.h and
 * bert_sampler_probabilities in bert.h). */
#include "train/sampler.h"

#include <math.h>
#include <string.h>

#include "util/error.h"

static bert_status check(const bert_sampler_params *sp, const long *sizes, int n, bert_error *err) {
    if (!sp || !sizes || n < 1 || n > BERT_MAX_HEADS)
        return bert_fail(err, BERT_ERR_INPUT, "task sampling takes 1..%d tasks", BERT_MAX_HEADS);
    if ((unsigned)sp->strategy > BERT_SAMPLING_ROUND_ROBIN)
        return bert_fail(err, BERT_ERR_INPUT, "unknown sampling strategy %d", (int)sp->strategy);
    if (sp->strategy == BERT_SAMPLING_TEMPERATURE && !(sp->temperature > 0 && sp->temperature <= 1e6))
        return bert_fail(err, BERT_ERR_INPUT, "the sampling temperature must be in (0, 1e6]");
    if (sp->strategy == BERT_SAMPLING_ANNEALED && !(sp->anneal_floor >= 0 && sp->anneal_floor <= 1))
        return bert_fail(err, BERT_ERR_INPUT, "the annealing floor must be in [0, 1]");
    for (int k = 0; k < n; k++)
        if (sizes[k] < 1) return bert_fail(err, BERT_ERR_INPUT, "task %d has no training examples", k);
    return BERT_OK;
}

/* p_k proportional to size_k^e (e = 1 proportional, 0 uniform). */
static void powered(const long *sizes, int n, double e, double *probs) {
    double sum = 0;
    for (int k = 0; k < n; k++) sum += probs[k] = pow((double)sizes[k], e);
    for (int k = 0; k < n; k++) probs[k] /= sum;
}

static void probabilities(const bert_sampler_params *sp, const long *sizes, int n, long step, long total, double *probs) {
    switch (sp->strategy) {
    case BERT_SAMPLING_PROPORTIONAL: powered(sizes, n, 1.0, probs); break;
    case BERT_SAMPLING_TEMPERATURE: powered(sizes, n, 1.0 / sp->temperature, probs); break;
    case BERT_SAMPLING_ANNEALED: {
        double progress = total > 1 ? (double)step / (double)(total - 1) : 0.0;
        progress = progress < 0 ? 0 : progress > 1 ? 1 : progress;
        powered(sizes, n, 1.0 - (1.0 - sp->anneal_floor) * progress, probs);
        break;
    }
    default: powered(sizes, n, 0.0, probs); break; /* uniform; round-robin's share */
    }
}

bert_status bert_sampler_probabilities(const bert_sampler_params *sp, const long *sizes, int n, long step,
                                       long total_steps, double *probs, bert_error *err) {
    bert_error_clear(err);
    bert_status rc = check(sp, sizes, n, err);
    if (rc == BERT_OK && !probs) rc = bert_fail(err, BERT_ERR_INPUT, "probs is NULL");
    if (rc == BERT_OK) probabilities(sp, sizes, n, step, total_steps, probs);
    return rc;
}

bert_status train_sampler_init(train_sampler *s, const bert_sampler_params *p, const long *sizes, int n, uint64_t seed,
                               bert_error *err) {
    bert_status rc = check(p, sizes, n, err);
    if (rc != BERT_OK) return rc;
    memset(s, 0, sizeof *s);
    s->p = *p, s->n = n;
    memcpy(s->sizes, sizes, sizeof *sizes * (size_t)n);
    bert_rng_seed(&s->rng, seed, 77); /* a stream of its own: the trainer's draws are untouched */
    return BERT_OK;
}

int train_sampler_next(train_sampler *s, long step, long total) {
    long i = s->drawn++;
    if (s->n == 1) return 0;
    if (s->p.strategy == BERT_SAMPLING_ROUND_ROBIN) return (int)(i % s->n);
    double probs[BERT_MAX_HEADS], u = bert_rng_uniform(&s->rng), acc = 0;
    probabilities(&s->p, s->sizes, s->n, step, total, probs);
    for (int k = 0; k < s->n - 1; k++)
        if (u < (acc += probs[k])) return k;
    return s->n - 1;
}
