/* test_zip.c — the zip reader: stored, deflated and zip64 archives read
 * back exactly; hostile archives (../ names, absolute names, zip bombs,
 * truncation, CRC damage, duplicates, overlaps) refused with a message. */
#include <stdlib.h>

#include "io/zip.h"
#include "test.h"
#include "zip_build.h"

static const char text[] = "the same bytes again and again, the same bytes again and again, the same bytes";

TEST(zip_reads_stored_deflated_and_zip64) {
    unsigned char big[3000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 % 13);
    zb_entry e[3] = {{"archive/data.pkl", text, sizeof text, 0, 0},
                     {"archive/data/0", big, sizeof big, 1, 0},
                     {"archive/empty", "", 0, 0, 0}};
    for (int zip64 = 0; zip64 < 2; zip64++) {
        size_t n;
        unsigned char *a = zb_zip(e, 3, zip64, &n);
        zip_archive z;
        bert_error err;
        CHECK_OK(zip_open(a, n, &z, &err), err);
        CHECK(z.n_entries == 3);
        const zip_entry *s = zip_find(&z, "archive/data.pkl"), *d = zip_find(&z, "archive/data/0");
        CHECK(s && d && !zip_find(&z, "archive/data"));
        if (s && d) {
            const unsigned char *p = zip_stored(&z, s, &err);
            CHECK(p && s->usize == sizeof text && memcmp(p, text, sizeof text) == 0);
            CHECK(d->method == 8 && d->csize < sizeof big && zip_stored(&z, d, &err) == NULL);
            unsigned char out[sizeof big];
            CHECK_OK(zip_extract(&z, d, out, &err), err);
            CHECK(memcmp(out, big, sizeof big) == 0);
        }
        zip_close(&z);
        free(a);
    }
}

static void expect_refused(const char *name, uint64_t usize_lie, int deflate, const char *needle) {
    zb_entry e[2] = {{"archive/data.pkl", text, sizeof text, 0, 0}, {name, text, sizeof text, deflate, usize_lie}};
    size_t n;
    unsigned char *a = zb_zip(e, 2, 0, &n);
    zip_archive z;
    bert_error err;
    CHECK_ERR(zip_open(a, n, &z, &err), err, BERT_ERR_FORMAT, needle);
    free(a);
}

TEST(zip_refuses_names_leaving_the_archive) {
    expect_refused("archive/../../etc/passwd", 0, 0, "leaves the archive");
    expect_refused("../x", 0, 0, "leaves the archive");
    expect_refused("archive/data/..", 0, 0, "leaves the archive");
    expect_refused("/etc/passwd", 0, 0, "is absolute");
    expect_refused("archive\\..\\x", 0, 0, "leaves the archive");
    expect_refused("archive//x", 0, 0, "leaves the archive");
    expect_refused("archive/data.pkl", 0, 0, "listed twice");
}

/* A declared size far over what the compressed bytes can give. */
TEST(zip_refuses_a_zip_bomb) {
    expect_refused("archive/data/0", 4000000000u, 1, "zip bomb");
    /* a stored entry whose sizes disagree */
    expect_refused("archive/data/0", 4000000000u, 0, "compressed size");
}

/* A deflated entry that inflates to fewer bytes than declared (but within
 * deflate's ratio), or whose bytes were damaged, is refused on extraction. */
TEST(zip_extract_checks_size_and_crc) {
    zb_entry e[1] = {{"a/data/0", text, sizeof text, 1, sizeof text + 5}};
    size_t n;
    unsigned char *a = zb_zip(e, 1, 0, &n);
    zip_archive z;
    bert_error err;
    CHECK_OK(zip_open(a, n, &z, &err), err);
    unsigned char out[sizeof text + 5];
    if (z.n_entries == 1) CHECK_ERR(zip_extract(&z, &z.entries[0], out, &err), err, BERT_ERR_FORMAT, "not 84 bytes long");
    zip_close(&z);
    free(a);
    zb_entry s[1] = {{"a/data/0", text, sizeof text, 0, 0}};
    a = zb_zip(s, 1, 0, &n);
    a[30 + 8 + 3] ^= 1; /* a byte of the stored data */
    CHECK_OK(zip_open(a, n, &z, &err), err);
    if (z.n_entries == 1) {
        CHECK(zip_stored(&z, &z.entries[0], &err) == NULL && strstr(err.message, "CRC-32"));
        CHECK_ERR(zip_extract(&z, &z.entries[0], out, &err), err, BERT_ERR_FORMAT, "CRC-32");
    }
    zip_close(&z);
    free(a);
}

/* Every truncation of an archive is refused, none crashes. */
TEST(zip_truncated_archives_refused) {
    zb_entry e[2] = {{"archive/data.pkl", text, sizeof text, 0, 0}, {"archive/data/0", text, sizeof text, 1, 0}};
    for (int zip64 = 0; zip64 < 2; zip64++) {
        size_t n;
        unsigned char *a = zb_zip(e, 2, zip64, &n);
        int refused = 0;
        for (size_t k = 0; k < n; k++) {
            unsigned char *cut = malloc(k ? k : 1);
            memcpy(cut, a, k);
            zip_archive z;
            bert_error err;
            if (zip_open(cut, k, &z, &err) != BERT_OK) refused++;
            else zip_close(&z);
            free(cut);
        }
        CHECK(refused == (int)n);
        free(a);
    }
    zip_archive z;
    bert_error err;
    CHECK_ERR(zip_open((const unsigned char *)"PK\x03\x04", 4, &z, &err), err, BERT_ERR_FORMAT, "too short");
}

/* Two central records pointing at the same bytes (an overlap bomb). */
TEST(zip_refuses_overlapping_entries) {
    zb_entry e[2] = {{"a/x", text, sizeof text, 0, 0}, {"a/y", text, sizeof text, 0, 0}};
    size_t n;
    unsigned char *a = zb_zip(e, 2, 0, &n);
    /* the second central record's local header offset (at +42) := the first's (0) */
    size_t cd = n - 22 - 2 * (46 + 3);
    size_t second = cd + 46 + 3;
    CHECK(a[second] == 0x50 && a[second + 1] == 0x4b);
    memset(a + second + 42, 0, 4);
    memcpy(a + second + 46, "a/x", 3); /* same name too, so the local header matches */
    zip_archive z;
    bert_error err;
    bert_status rc = zip_open(a, n, &z, &err);
    CHECK(rc == BERT_ERR_FORMAT && (strstr(err.message, "overlap") || strstr(err.message, "twice")));
    memcpy(a + second + 46, "a/y", 3);
    CHECK_ERR(zip_open(a, n, &z, &err), err, BERT_ERR_FORMAT, "local header does not match");
    free(a);
}
