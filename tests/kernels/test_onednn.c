/* test_onednn.c — oneDNN's packed products report what went wrong: the
 * arguments they refuse and oneDNN's own status, named, when it refuses. */
#include <stdlib.h>

#include "kernels/onednn.h"
#include "test.h"

TEST(onednn_packed_errors_name_the_cause) {
#ifdef BERT_HAVE_DNNL
    if (bert_dnnl_status() != BERT_DNNL_OK) return;
    bert_error err;
    bert_dnnl_packed p;
    float W[32 * 32] = {0};
    CHECK_ERR(bert_dnnl_packed_init(&p, W, 0, 32, dnnl_f32, dnnl_f32, 0, &err), err, BERT_ERR_SHAPE, "0 x 32");
    /* u8 weights: oneDNN's matmul takes int8 weights only as s8 */
    bert_status rc = bert_dnnl_packed_init(&p, W, 32, 32, dnnl_u8, dnnl_s32, 0, &err);
    printf("  u8 x u8 -> s32: %s\n", rc == BERT_OK ? "accepted" : err.message);
    if (rc != BERT_OK) CHECK(strstr(err.message, "oneDNN status") && strstr(err.message, "32 x 32 weight (u8 x u8 -> s32)"));
    else bert_dnnl_packed_destroy(&p);
    CHECK_OK(bert_dnnl_packed_init(&p, W, 32, 32, dnnl_f32, dnnl_f32, 0, &err), err);
    float x[16 * 32] = {0}, y[16 * 32];
    CHECK_ERR(bert_dnnl_packed_run(&p, 17, x, y, NULL, &err), err, BERT_ERR_INPUT, "17 rows (a multiple of 16 up to 128");
    CHECK_ERR(bert_dnnl_packed_run(&p, 144, x, y, NULL, &err), err, BERT_ERR_INPUT, "144 rows");
    CHECK_ERR(bert_dnnl_packed_run(&p, 256, x, y, NULL, &err), err, BERT_ERR_INPUT, "up to 128, or 512, expected");
    CHECK_ERR(bert_dnnl_packed_run(&p, 513, x, y, NULL, &err), err, BERT_ERR_INPUT, "513 rows");
    CHECK_OK(bert_dnnl_packed_run(&p, 16, x, y, NULL, &err), err);
    CHECK(y[0] == 0.0f && y[16 * 32 - 1] == 0.0f);
    /* the one larger row count: made on request, then run */
    CHECK(bert_dnnl_packed_big_ok(&p));
    float *xb = calloc(512 * 32, sizeof *xb), *yb = malloc(sizeof *yb * 512 * 32);
    if (xb && yb) {
        yb[0] = yb[512 * 32 - 1] = 1.0f;
        CHECK_OK(bert_dnnl_packed_run(&p, 512, xb, yb, NULL, &err), err);
        CHECK(yb[0] == 0.0f && yb[512 * 32 - 1] == 0.0f);
    }
    free(xb), free(yb);
    bert_dnnl_packed_destroy(&p);
#endif
}
