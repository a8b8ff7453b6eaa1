/* Backend buffers (tb_backend_buffer_*) on every backend that starts here:
 * host memory for cpu / cpu-ref, device memory for opencl (PoCL) and cuda
 * (skipped with its reason when no GPU). Round trips, partial ranges,
 * out-of-range copies rejected with a one-line error, an absurd allocation
 * failing cleanly, and the transfer byte counters of accelerators. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/tb_backend.h"
#include "tb_test.h"

enum { NB = 1000 };

static int one_line(const struct tb_err *e)
{
    return e->msg[0] && !strchr(e->msg, '\n');
}

static void test_backend(struct tb_backend *b)
{
    const char *name = tb_backend_name(b);
    struct tb_err err = {0};
    struct tb_op_evidence ev0 = {0}, ev1 = {0};
    const int has_ev = tb_backend_op_evidence(b, &ev0, NULL) == TB_OK;
    const int accel = strcmp(name, "cpu") != 0 && strcmp(name, "cpu-ref") != 0;

    struct tb_backend_buffer *buf = NULL, *zero = NULL;
    int rc = tb_backend_buffer_alloc(b, NB, &buf, &err);
    CHECKF(rc == TB_OK && buf, "%s: alloc: %s", name, err.msg);
    if (!buf)
        return;
    CHECK(tb_backend_buffer_size(buf) == NB);
    /* accelerators hand out device memory, CPU backends host memory */
    CHECKF(tb_backend_buffer_is_host(buf) == !accel, "%s: is_host %d", name,
           (int)tb_backend_buffer_is_host(buf));
    CHECK((tb_backend_buffer_host_ptr(buf) != NULL) == tb_backend_buffer_is_host(buf));

    unsigned char a[NB], b2[NB], got[NB];
    for (int i = 0; i < NB; i++) {
        a[i] = (unsigned char)(i * 7 + 3);
        b2[i] = (unsigned char)(255 - i * 13);
    }
    CHECKF(tb_backend_buffer_set(buf, 0, a, NB, &err) == TB_OK, "%s: set: %s", name, err.msg);
    memset(got, 0, sizeof got);
    CHECKF(tb_backend_buffer_get(buf, 0, got, NB, &err) == TB_OK, "%s: get: %s", name, err.msg);
    CHECKF(memcmp(a, got, NB) == 0, "%s: round trip differs", name);

    /* partial: bytes [100, 300) replaced, read back [50, 350) */
    CHECK(tb_backend_buffer_set(buf, 100, b2, 200, &err) == TB_OK);
    memset(got, 0, sizeof got);
    CHECK(tb_backend_buffer_get(buf, 50, got, 300, &err) == TB_OK);
    CHECKF(memcmp(got, a + 50, 50) == 0 && memcmp(got + 50, b2, 200) == 0 &&
               memcmp(got + 250, a + 300, 50) == 0,
           "%s: partial set/get wrong", name);
    /* the last byte alone, and empty copies at the end */
    CHECK(tb_backend_buffer_get(buf, NB - 1, got, 1, &err) == TB_OK && got[0] == a[NB - 1]);
    CHECK(tb_backend_buffer_set(buf, NB, a, 0, &err) == TB_OK);
    CHECK(tb_backend_buffer_get(buf, NB, got, 0, &err) == TB_OK);

    /* out of range: rejected, one line naming the buffer size */
    memset(&err, 0, sizeof err);
    rc = tb_backend_buffer_set(buf, 900, a, 200, &err);
    CHECKF(rc == TB_EINVAL && one_line(&err) && strstr(err.msg, "1000 bytes") &&
               strstr(err.msg, name),
           "%s: set past the end gave %d '%s'", name, rc, err.msg);
    printf("%s: %s\n", name, err.msg);
    CHECK(tb_backend_buffer_get(buf, NB + 1, got, 0, &err) == TB_EINVAL && one_line(&err));
    CHECK(tb_backend_buffer_get(buf, SIZE_MAX, got, 2, &err) == TB_EINVAL); /* no wrap-around */
    CHECK(tb_backend_buffer_set(buf, 1, NULL, 4, &err) == TB_EINVAL && one_line(&err));
    /* the rejected copies changed nothing */
    CHECK(tb_backend_buffer_get(buf, 900, got, 100, &err) == TB_OK &&
          memcmp(got, a + 900, 100) == 0);

    /* an empty buffer is a buffer */
    CHECKF(tb_backend_buffer_alloc(b, 0, &zero, &err) == TB_OK && zero, "%s: alloc 0: %s", name,
           err.msg);
    if (zero) {
        CHECK(tb_backend_buffer_size(zero) == 0);
        CHECK(tb_backend_buffer_get(zero, 0, got, 1, &err) == TB_EINVAL);
    }

    /* absurd size: a clean failure, no handle */
    struct tb_backend_buffer *huge = buf; /* must come back NULL */
    memset(&err, 0, sizeof err);
    rc = tb_backend_buffer_alloc(b, (size_t)1 << 62, &huge, &err);
    CHECKF(rc < 0 && !huge && one_line(&err), "%s: 4 EiB alloc gave %d '%s'", name, rc, err.msg);
    printf("%s: %s\n", name, err.msg);
    /* the backend still works afterwards */
    CHECK(tb_backend_buffer_get(buf, 0, got, NB, &err) == TB_OK && memcmp(got, a, 50) == 0);

    if (has_ev) {
        /* set: 1000 + 200 bytes in; get: 1000 + 300 + 1 + 100 + 1000 out */
        CHECK(tb_backend_op_evidence(b, &ev1, &err) == TB_OK);
        CHECKF(ev1.total_h2d_bytes - ev0.total_h2d_bytes == 1200 &&
                   ev1.total_d2h_bytes - ev0.total_d2h_bytes == 2401,
               "%s: counted %llu bytes in, %llu out", name,
               (unsigned long long)(ev1.total_h2d_bytes - ev0.total_h2d_bytes),
               (unsigned long long)(ev1.total_d2h_bytes - ev0.total_d2h_bytes));
    }
    tb_backend_buffer_free(zero);
    tb_backend_buffer_free(buf);
    tb_backend_buffer_free(NULL);
}

int main(void)
{
    int n_run = 0;
    for (const char *const *n = tb_backend_names(); *n; n++) {
        struct tb_backend *b = NULL;
        struct tb_err err = {0};
        if (tb_backend_create(*n, NULL, &b, &err) != TB_OK) {
            /* cpu backends always start; accelerators may not */
            CHECKF(strcmp(*n, "cpu") != 0 && strcmp(*n, "cpu-ref") != 0, "%s: %s", *n, err.msg);
            printf("SKIP %s buffers: %s\n", *n, err.msg);
            continue;
        }
        test_backend(b);
        n_run++;
        tb_backend_free(b);
    }
    CHECK(n_run >= 2);
    printf("buffers tested on %d backends\n", n_run);
    return tb_test_result("test_backend_buffer");
}
