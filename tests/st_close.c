/* st_close — compare the F32 tensors of two safetensors files.
 *
 *   st_close A.safetensors B.safetensors TOL [NAMES ABS]
 *
 * For every tensor of A (B must hold the same names, shapes and dtypes):
 * the largest |a - b| over the largest |a| of the tensor (its relative
 * difference). Prints the largest of them and the tensor it is in; exits 0
 * when it is at most TOL, 1 when not or when the files differ in layout,
 * 2 on a usage or read error. With NAMES ABS, tensors whose name contains
 * one of the comma-separated NAMES are held to |a - b| <= ABS instead:
 * tensors whose true gradient is zero (BERT's attention key biases, as
 * softmax ignores a shift of every score; in QA, qa_outputs.bias and the
 * last layer's output LayerNorm bias, as the softmax over the tokens
 * does), where AdamW turns the rounding noise of the gradient into steps
 * of up to the learning rate, whatever the order of the sums. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

/* 1 when name contains one of the comma-separated parts of list. */
static int exempt(const char *name, const char *list) {
    char part[256];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n > 0 && n < sizeof part) {
            memcpy(part, p, n), part[n] = 0;
            if (strstr(name, part)) return 1;
        }
        p += n + (p[n] == ',');
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: st_close A.safetensors B.safetensors TOL [NAMES ABS]\n");
        return 2;
    }
    double tol = atof(argv[3]), worst = 0.0, abs_tol = argc == 6 ? atof(argv[5]) : 0.0, worst_abs = 0.0;
    const char *special = argc == 6 ? argv[4] : NULL;
    const char *where = "";
    st_file a, b;
    bert_error err;
    if (st_open(argv[1], 1, &a, &err) != BERT_OK || st_open(argv[2], 1, &b, &err) != BERT_OK) {
        fprintf(stderr, "st_close: %s\n", err.message);
        return 2;
    }
    int rc = a.n_tensors == b.n_tensors ? 0 : 1;
    for (int i = 0; !rc && i < a.n_tensors; i++) {
        const st_tensor *x = &a.tensors[i], *y = st_find(&b, x->name);
        if (!y || y->dtype != x->dtype || y->numel != x->numel) {
            fprintf(stderr, "st_close: %s differs in name, dtype or size\n", x->name);
            rc = 1;
            break;
        }
        if (x->dtype != ST_F32) continue;
        double big = 0.0, diff = 0.0;
        for (int64_t k = 0; k < x->numel; k++) {
            float u, v;
            memcpy(&u, x->data + 4 * k, 4), memcpy(&v, y->data + 4 * k, 4);
            big = fmax(big, fabs(u)), diff = fmax(diff, fabs((double)u - v));
            if (isnan(u) != isnan(v)) diff = INFINITY;
        }
        if (special && exempt(x->name, special)) {
            worst_abs = fmax(worst_abs, diff);
            if (!(diff <= abs_tol)) fprintf(stderr, "st_close: %s: |a - b| up to %g\n", x->name, diff), rc = 1;
            continue;
        }
        double rel = big > 0 ? diff / big : diff;
        if (rel > worst || isnan(rel)) worst = rel, where = x->name;
    }
    if (!rc) printf("max relative difference %.3g (%s)", worst, where);
    if (!rc && special) printf("; *%s*: max |a - b| %.3g", special, worst_abs);
    if (!rc) printf("\n");
    if (!rc && !(worst <= tol)) rc = 1;
    st_close(&a), st_close(&b);
    return rc;
}
