/* amx.h — what the AMX kernels (attention_bf16.c, linear_amx.c) share
 * (internal). Include only inside their
 * `#if BERT_AMX_INTRINSICS` sections. */
#ifndef BERT_KERNELS_AMX_H
#define BERT_KERNELS_AMX_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* Compiled for AMX (and AVX512-BF16 for the conversions around it), called
 * only after bert_amx_bf16_ready() (cpu.h) said yes. */
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16")))

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
    _tile_loadconfig(&cfg);
}

#endif
