/* metrics.c — the GLUE metrics, as scikit-learn / scipy compute them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bert.h"

double bert_metric_accuracy(const int *pred, const int *gold, int n) {
    int ok = 0;
    for (int i = 0; i < n; i++) ok += pred[i] == gold[i];
    return n ? (double)ok / n : 0.0;
}

double bert_metric_f1(const int *pred, const int *gold, int n, int positive) {
    int tp = 0, fp = 0, fn = 0;
    for (int i = 0; i < n; i++) {
        tp += pred[i] == positive && gold[i] == positive;
        fp += pred[i] == positive && gold[i] != positive;
        fn += pred[i] != positive && gold[i] == positive;
    }
    return tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
}

double bert_metric_mcc(const int *pred, const int *gold, int n) {
    /* Binary Matthews correlation (sklearn's matthews_corrcoef for 2 classes). */
    double tp = 0, tn = 0, fp = 0, fn = 0;
    for (int i = 0; i < n; i++) {
        tp += pred[i] == 1 && gold[i] == 1;
        tn += pred[i] != 1 && gold[i] != 1;
        fp += pred[i] == 1 && gold[i] != 1;
        fn += pred[i] != 1 && gold[i] == 1;
    }
    double d = sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
    return d > 0 ? (tp * tn - fp * fn) / d : 0.0;
}

double bert_metric_pearson(const double *x, const double *y, int n) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= n, my /= n;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0.0;
}

/* Average ranks (ties share the mean rank), as scipy.stats.rankdata. */
static void ranks(const double *v, int n, double *r) {
    int *idx = malloc(sizeof *idx * (size_t)n);
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort by value: n is a dev set */
        int k = idx[i], j = i;
        while (j > 0 && v[idx[j - 1]] > v[k]) idx[j] = idx[j - 1], j--;
        idx[j] = k;
    }
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && v[idx[j + 1]] == v[idx[i]]) j++;
        for (int k = i; k <= j; k++) r[idx[k]] = (i + j) / 2.0 + 1.0;
        i = j + 1;
    }
    free(idx);
}

double bert_metric_spearman(const double *x, const double *y, int n) {
    double *rx = malloc(sizeof *rx * (size_t)n), *ry = malloc(sizeof *ry * (size_t)n);
    ranks(x, n, rx);
    ranks(y, n, ry);
    double r = bert_metric_pearson(rx, ry, n);
    free(rx);
    free(ry);
    return r;
}
