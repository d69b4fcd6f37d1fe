/* pytext.h — Python's text behaviour where scores must match Python tools
 * byte for byte: str.lower() (full case mapping with Final_Sigma) and
 * float repr() (the shortest text that reads back as the same double). */
#ifndef BERT_TASKS_PYTEXT_H
#define BERT_TASKS_PYTEXT_H

#include <stddef.h>
#include <stdint.h>

/* Python's str.lower() of the n code points in: the full lowercase mapping
 * (U+0130 becomes i + U+0307) and capital sigma becoming final sigma (U+03C2)
 * where Python's handle_capital_sigma says so (after a cased letter, not
 * before one, case-ignorable characters skipped both ways). Writes at most
 * 2n code points to out and returns their number. The case mapping itself
 * is utf8proc's (see tokenizer/unicode.h); Python 3.11 uses Unicode 14.0. */
long py_lower(const uint32_t *in, long n, uint32_t *out);

/* Python's float repr: "0.1", "100.0", "66.66666666666667", "1e-05",
 * "1e+16", "inf", "nan" (json.dumps writes Infinity / NaN for the last
 * two; callers refuse them). Writes a NUL-terminated string of at most 32
 * bytes into buf (cap >= 32) and returns its length. */
int py_float_repr(double x, char *buf, size_t cap);

/* The sum of n doubles as CPython 3.11's sum() (and a Python += loop)
 * computes it: one after another from 0, no compensation. */
double py_sum(const double *v, long n);

/* numpy's sum of a float64 array (add.reduce: pairwise summation in
 * blocks of 8 with 8 partial sums, halves above 128 elements), as
 * np.mean / np.average use it. */
double np_sum(const double *v, long n);

#endif
