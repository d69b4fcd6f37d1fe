/* amx.h — what the AMX kernels (attention_bf16.c, linear_amx.c,
 * qlinear_amx.c) share
 * (internal). Include only inside their
 * `#if BERT_AMX_INTRINSICS` sections. */
#ifndef BERT_KERNELS_AMX_H
#define BERT_KERNELS_AMX_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* Compiled for AMX (and AVX512-BF16 for the conversions around it; VL so
 * that half.h's bf16 stores inline into the kernels' epilogues: bert-base
 * bf16, one thread, batch 8, five interleaved rounds 31.6-33.2 -> 31.4-32.3
 * ms, where it had been a call per 16 values), called only after
 * bert_amx_bf16_ready() (cpu.h) said yes. */
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16")))
/* The same with AMX-INT8, called only after bert_amx_int8_ready(). */
#define AMX_INT8_TARGET __attribute__((target("amx-tile,amx-bf16,amx-int8,avx512f,avx512bw,avx512vl,avx512bf16")))

/* Palette 1: tiles 0 .. n-1 each 64 bytes wide with rows[t] rows, loaded
 * into this thread's tile configuration (which also zeroes the tiles). */
AMX_TARGET static inline void bert_amx_configure(int n, const uint8_t *rows) {
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < n; t++) cfg.colsb[t] = 64, cfg.rows[t] = rows[t];
    /* GCC does not count ldtilecfg as reading cfg: without this barrier
     * the stores above were dropped where this was not inlined */
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
}


/* The dense kernels' tile set (linear_amx.c, qlinear_amx.c): tiles 0-3
 * (C) and 4-5 (A) hold `rows` rows, 6-7 (B) 16. */
AMX_TARGET static inline void bert_amx_configure_dense(int rows) {
    const uint8_t r = (uint8_t)rows, tile_rows[8] = {r, r, r, r, r, r, 16, 16};
    bert_amx_configure(8, tile_rows);
}

/* Rows of a dense kernel's group (bert_amx_dense_part) for input rows of
 * row_bytes: about 256 KB of input, which stays in L2 while the 32-column
 * panels of W pass over it, a multiple of 32 and at least 128, so a
 * 128-token input's W is streamed once. Intel Xeon, one thread, int8
 * 1024 x 3072 x 768: 1336 -> 2129 GOP/s against one group of every row;
 * bf16, bert-base's four products of 2 layers in pass order over 1,024
 * rows: 30.6 ms in one group, 23.8-24.1 in groups of 128-256 rows, 35.0
 * in 32 (more passes of W from L3). */
static inline int bert_amx_group_rows(int row_bytes) {
    int group = 256 * 1024 / row_bytes / 32 * 32;
    return group < 128 ? 128 : group;
}

/* The accumulator tiles 0-3 of a dense step (rows i0 .. i0 + 32 by two
 * 16-column blocks: 0 top left, 1 bottom left, 2 top right, 3 bottom
 * right; two_rows / two_cols say which exist) into dst, rows ld bytes
 * apart (4-byte values). */
AMX_TARGET static inline void bert_amx_store_c(void *dst, long ld, int two_rows, int two_cols) {
    char *d = dst;
    _tile_stored(0, d, ld);
    if (two_rows) _tile_stored(1, d + 16 * ld, ld);
    if (two_cols) _tile_stored(2, d + 64, ld);
    if (two_rows && two_cols) _tile_stored(3, d + 16 * ld + 64, ld);
}

/* The same tiles loaded from src (bert_amx_store_c's layout). */
AMX_TARGET static inline void bert_amx_load_c(const void *src, long ld, int two_rows, int two_cols) {
    const char *d = src;
    _tile_loadd(0, d, ld);
    if (two_rows) _tile_loadd(1, d + 16 * ld, ld);
    if (two_cols) _tile_loadd(2, d + 64, ld);
    if (two_rows && two_cols) _tile_loadd(3, d + 16 * ld + 64, ld);
}

/* The accumulator tiles 0-3 from cin (bert_amx_load_c, rows 128 bytes
 * apart) or, with cin NULL, zeroed. */
AMX_TARGET static inline void bert_amx_start_c(const void *cin, int two_rows, int two_cols) {
    if (cin) {
        bert_amx_load_c(cin, 128, two_rows, two_cols);
        return;
    }
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
}

/* One output step of a dense kernel: rows i0 .. i0 + 32 (two A tiles,
 * two_rows) or i0 .. i0 + rows of the current configuration (one),
 * columns of 16-column blocks nb and nb + 1 (two_cols) or nb, over the
 * kernel's input chunks [kc0, kc1) (the chunk one tdp* reads: 32 bf16 or
 * 64 int8 inputs). The accumulators start from cin (partial sums of the
 * chunks before, bert_amx_store_c's layout, rows 128 bytes apart) or,
 * with cin NULL, from the kernel's start (bias or zero); they end in cout
 * (partial sums, as cin) or, with cout NULL, in the output. A row's sums
 * run over the chunks in order however they are split, and partial sums
 * pass through memory exactly, so a split does not change the bits. */
typedef struct bert_amx_prefetch bert_amx_prefetch;
typedef void (*bert_amx_step_fn)(const void *arg, int i0, int rows, int two_rows, int nb, int two_cols, int kc0,
                                 int kc1, const void *cin, void *cout, const bert_amx_prefetch *pf);

/* Both dense kernels pack W the same way in bytes: chunk kc of the
 * 16-column block nb at ((nb * kchunks) + kc) * 1024, so a column pair's
 * B tiles are two runs of 1 KB chunks, kchunks KB apart. */
enum { BERT_AMX_CHUNK_BYTES = 1024 };

/* W a step fetches into L2 ahead of its use (bert_amx_dense_part): from
 * `next`, `bytes` of each of the pair's two runs per input chunk the step
 * takes, the second run b1 bytes after the first. */
struct bert_amx_prefetch {
    const char *next;
    int bytes;
    long b1;
};

/* A step's share of the prefetch for its input chunk j (counted from the
 * step's first): prefetcht1 of pf->bytes at next + j * bytes in each run.
 * bert-base's weights (1.2-4.7 MB a product) do not stay in a 2 MB L2,
 * and the hardware prefetcher does not run ahead of the tile loads that
 * follow a k-block or a column pair to the next. */
AMX_TARGET static inline void bert_amx_prefetch_chunk(const bert_amx_prefetch *pf, int j) {
    if (!pf) return;
    const char *p = pf->next + (size_t)j * pf->bytes;
    for (int o = 0; o < pf->bytes; o += 64) {
        _mm_prefetch(p + o, _MM_HINT_T1);
        _mm_prefetch(p + pf->b1 + o, _MM_HINT_T1);
    }
}

/* The rows of a k-blocked group (its partial sums: 4 KB per 32 rows, on
 * the stack), whatever bert_amx_group_rows says: W's k-block waits in L1
 * for the group's rows, so the input rows need only stay in L2, and more
 * rows a pass of W mean fewer passes from L3 (bf16 at K = 768: 160 rows
 * by bert_amx_group_rows, 393 KB in 256; bert-base shape, batch 8, the
 * pass's products of 2 layers on 1,024 rows in pass order 10.14 -> 9.89
 * ms; the whole pass, four interleaved rounds, one thread 25.7-26.7 ->
 * 25.4-26.3 ms, two threads 13.4-14.0 -> 13.0-13.3; int8, whose rows are
 * half as long, already had 256). */
enum { BERT_AMX_KBLOCK_ROWS = 256 };

/* A dense kernel's part of the output, rows [i0, i1) x columns [j0, j1)
 * (bert_for_slabs), inputs of kchunks chunks, W packed at wp
 * (BERT_AMX_CHUNK_BYTES; NULL: W is not prefetched): the rows in groups
 * of `group` (a multiple of 32; the input rows that stay in L2 while
 * every 32-column panel of W passes over them), in each group every
 * column pair of blocks over the group's 32-row steps. With kblock (0: none) below kchunks, a group
 * (then BERT_AMX_KBLOCK_ROWS rows) takes each column pair's
 * chunks kblock at a time over all its steps, so that the panel's k-block
 * of W stays in L1 while the group's rows pass over it. While the group's
 * first steps (up to 4) take a block of W, they prefetch the next block
 * (the pair's next k-block, the next pair's first, or the part's first
 * for the next group) into L2, each its share. The part's rows left over
 * after its 16-row blocks run last, whole K at a time, under a
 * configuration whose A and C tiles have only that many rows, so no load
 * reads past the input's last row. */
AMX_TARGET static inline void bert_amx_dense_part(int i0, int i1, int j0, int j1, int group, int kchunks, int kblock,
                                                  const void *wp, bert_amx_step_fn step, const void *arg) {
    int nb0 = j0 / 16, nb1 = j1 / 16, full = i0 + (i1 - i0) / 16 * 16;
    if (kblock <= 0 || kblock >= kchunks) kblock = kchunks;
    else group = BERT_AMX_KBLOCK_ROWS;
    char partial[BERT_AMX_KBLOCK_ROWS / 32][32 * 32 * 4] __attribute__((aligned(64)));
    bert_amx_configure_dense(16);
    for (int g = i0; g < full; g += group) {
        int g1 = full - g < group ? full : g + group;
        int steps = (g1 - g + 31) / 32, sharers = steps >= 4 ? 4 : steps >= 2 ? 2 : 1;
        for (int nb = nb0; nb < nb1; nb += 2)
            for (int k0 = 0; k0 < kchunks; k0 += kblock) {
                int k1 = kchunks - k0 < kblock ? kchunks : k0 + kblock;
                int nk = k1 < kchunks ? k1 : 0, nnb = k1 < kchunks ? nb : nb + 2 < nb1 ? nb + 2 : nb0;
                size_t next = ((size_t)nnb * kchunks + nk) * BERT_AMX_CHUNK_BYTES;
                for (int r = g, s = 0; r < g1; r += 32, s++) {
                    int bytes = BERT_AMX_CHUNK_BYTES / sharers;
                    bert_amx_prefetch mine = {wp ? (const char *)wp + next + (size_t)s * (k1 - k0) * bytes : NULL,
                                              bytes, (long)kchunks * BERT_AMX_CHUNK_BYTES};
                    step(arg, r, 16, r + 32 <= g1, nb, nb + 1 < nb1, k0, k1, k0 ? partial[s] : NULL,
                         k1 < kchunks ? partial[s] : NULL, wp && s < sharers ? &mine : NULL);
                }
            }
    }
    if (full < i1) {
        bert_amx_configure_dense(i1 - full);
        for (int nb = nb0; nb < nb1; nb += 2)
            step(arg, full, i1 - full, 0, nb, nb + 1 < nb1, 0, kchunks, NULL, NULL, NULL);
    }
    _tile_release();
}

#endif
