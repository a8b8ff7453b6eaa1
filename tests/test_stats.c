/* Statistics, Mann-Whitney U and the measurement loop against hand-computed
 * and published reference values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/platform/tb_platform.h"
#include "harness/tb_stats.h"
#include "tb_test.h"

static int near(double a, double b, double tol)
{
    return fabs(a - b) <= tol;
}

static void test_percentiles_1_to_100(void)
{
    double x[100];
    for (int i = 0; i < 100; i++)
        x[i] = 100 - i; /* reversed: input order must not matter */
    struct tb_stats s;
    struct tb_err e = {0};
    CHECK(tb_stats_compute(x, 100, NULL, &s, &e) == TB_OK);
    CHECK(s.n == 100);
    CHECK(s.min == 1 && s.max == 100);
    /* numpy.percentile(range(1,101), q) with linear interpolation:
     * h = 99*q/100 -> 50.5, 90.1, 95.05, 99.01 */
    CHECKF(near(s.median, 50.5, 1e-12), "median %.17g", s.median);
    CHECKF(near(s.p90, 90.1, 1e-9), "p90 %.17g", s.p90);
    CHECKF(near(s.p95, 95.05, 1e-9), "p95 %.17g", s.p95);
    CHECKF(near(s.p99, 99.01, 1e-9), "p99 %.17g", s.p99);
    CHECK(near(s.mean, 50.5, 1e-12));
    /* sample stddev of 1..n = sqrt(n(n+1)/12) */
    CHECKF(near(s.stddev, sqrt(100.0 * 101.0 / 12.0), 1e-9), "stddev %.17g", s.stddev);
    CHECK(near(s.cv, s.stddev / 50.5, 1e-12));
    CHECK(s.noisy == 1); /* cv 0.57 > 0.05 */
    CHECK(s.median_ci_lo <= s.median && s.median <= s.median_ci_hi);

    double four[] = {4, 1, 3, 2};
    CHECK(near(tb_percentile_sorted((double[]){1, 2, 3, 4}, 4, 90), 3.7, 1e-12));
    CHECK(tb_stats_compute(four, 4, NULL, &s, &e) == TB_OK);
    CHECK(near(s.median, 2.5, 1e-12));
    CHECK(near(s.p90, 3.7, 1e-12)); /* h = 2.7 */
    CHECK(near(s.stddev, sqrt(5.0 / 3.0), 1e-12));
    CHECK(tb_percentile_sorted(four, 4, 0) == 4 && tb_percentile_sorted(four, 0, 50) != 0);
}

static void test_constant_and_edge_cases(void)
{
    double c[50];
    for (int i = 0; i < 50; i++)
        c[i] = 3.25;
    struct tb_stats s;
    struct tb_err e = {0};
    CHECK(tb_stats_compute(c, 50, NULL, &s, &e) == TB_OK);
    CHECK(s.stddev == 0 && s.cv == 0 && !s.noisy);
    CHECK(s.median == 3.25 && s.p99 == 3.25 && s.median_ci_lo == 3.25 && s.median_ci_hi == 3.25);

    double one = 7;
    CHECK(tb_stats_compute(&one, 1, NULL, &s, &e) == TB_OK);
    CHECK(s.n == 1 && s.median == 7 && s.p99 == 7 && s.stddev == 0 && s.median_ci_lo == 7);

    double zeros[3] = {0, 0, 0}, sym[2] = {-1, 1};
    CHECK(tb_stats_compute(zeros, 3, NULL, &s, &e) == TB_OK);
    CHECK(isnan(s.cv) && !s.noisy); /* cv undefined, but no spread either */
    CHECK(tb_stats_compute(sym, 2, NULL, &s, &e) == TB_OK);
    CHECK(isnan(s.cv) && s.noisy);

    /* the threshold is a parameter: cv here is 0.01/1.0 scale */
    double q[4] = {0.99, 1.0, 1.0, 1.01};
    struct tb_stats_opts o;
    tb_stats_opts_default(&o);
    CHECK(tb_stats_compute(q, 4, &o, &s, &e) == TB_OK && !s.noisy);
    o.noisy_cv = s.cv / 2;
    CHECK(tb_stats_compute(q, 4, &o, &s, &e) == TB_OK && s.noisy);
    o.bootstrap_resamples = 0;
    CHECK(tb_stats_compute(q, 4, &o, &s, &e) == TB_OK && isnan(s.median_ci_lo));

    double bad[3] = {1, NAN, 2};
    e.msg[0] = '\0';
    CHECK(tb_stats_compute(bad, 3, NULL, &s, &e) == TB_EINVAL && strstr(e.msg, "sample 1"));
    bad[1] = INFINITY;
    CHECK(tb_stats_compute(bad, 3, NULL, &s, &e) == TB_EINVAL);
    CHECK(tb_stats_compute(bad, 0, NULL, &s, &e) == TB_EINVAL);
}

/* Box-Muller normal from the library's PRNG */
static double normal(struct tb_rng *r)
{
    double u1 = tb_rng_uniform(r), u2 = tb_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

static void test_bootstrap(void)
{
    enum { N = 10001 };
    double *x = malloc(N * sizeof *x);
    CHECK(x != NULL);
    if (!x)
        return;
    struct tb_rng r;
    tb_rng_seed(&r, 42);
    for (int i = 0; i < N; i++)
        x[i] = 10.0 + normal(&r);
    struct tb_stats a, b, c;
    struct tb_stats_opts o;
    tb_stats_opts_default(&o);
    struct tb_err e = {0};
    CHECK(tb_stats_compute(x, N, &o, &a, &e) == TB_OK);
    /* true median 10; the median's standard error is ~1.2533/sqrt(N) = 0.0125 */
    CHECKF(a.median_ci_lo < 10.0 && 10.0 < a.median_ci_hi, "CI [%g, %g]", a.median_ci_lo,
           a.median_ci_hi);
    CHECK(a.median_ci_lo <= a.median && a.median <= a.median_ci_hi);
    CHECKF(a.median_ci_hi - a.median_ci_lo > 0.02 && a.median_ci_hi - a.median_ci_lo < 0.09,
           "CI width %g", a.median_ci_hi - a.median_ci_lo);
    CHECK(near(a.mean, 10.0, 0.05) && near(a.stddev, 1.0, 0.05));
    /* determinism: same seed -> bit-identical interval; another seed differs */
    CHECK(tb_stats_compute(x, N, &o, &b, &e) == TB_OK);
    CHECK(memcmp(&a.median_ci_lo, &b.median_ci_lo, sizeof(double)) == 0 &&
          memcmp(&a.median_ci_hi, &b.median_ci_hi, sizeof(double)) == 0);
    o.seed = 43;
    CHECK(tb_stats_compute(x, N, &o, &c, &e) == TB_OK);
    CHECK(c.median_ci_lo != a.median_ci_lo || c.median_ci_hi != a.median_ci_hi);
    free(x);

    /* coverage: over 200 samples of n=101 from N(0,1) the 95% interval
     * should contain the true median 0 about 95% of the time */
    int covered = 0;
    double y[101];
    o.seed = 7;
    for (int rep = 0; rep < 200; rep++) {
        for (int i = 0; i < 101; i++)
            y[i] = normal(&r);
        o.seed++;
        if (tb_stats_compute(y, 101, &o, &a, &e) == TB_OK && a.median_ci_lo < 0 &&
            0 < a.median_ci_hi)
            covered++;
    }
    CHECKF(covered >= 176 && covered <= 200, "coverage %d/200", covered);
}

static void test_mann_whitney(void)
{
    struct tb_mwu m;
    struct tb_err e = {0};
    /* scipy.stats.mannwhitneyu documentation example (Conover): U1 = 17,
     * exact p = 0.1111111111111111, method="asymptotic" p = 0.11134688653314041 */
    double males[] = {19, 22, 16, 29, 24}, females[] = {20, 11, 17, 12};
    CHECK(tb_mann_whitney(males, 5, females, 4, TB_MWU_AUTO, &m, &e) == TB_OK);
    CHECK(m.u_a == 17 && m.u_b == 3 && m.exact && !m.ties);
    CHECKF(near(m.p, 0.1111111111111111, 1e-12), "exact p %.17g", m.p);
    CHECK(tb_mann_whitney(males, 5, females, 4, TB_MWU_ASYMPTOTIC, &m, &e) == TB_OK);
    CHECKF(near(m.p, 0.11134688653314041, 1e-12), "asymptotic p %.17g", m.p);
    CHECK(!m.exact && near(m.z, 6.5 / sqrt(200.0 / 12.0), 1e-12));
    /* symmetric in the order of the samples */
    CHECK(tb_mann_whitney(females, 4, males, 5, TB_MWU_ASYMPTOTIC, &m, &e) == TB_OK);
    CHECK(m.u_a == 3 && near(m.p, 0.11134688653314041, 1e-12));

    /* fully separated 3 vs 3: exact p = 2/C(6,3) = 0.1 (hand count);
     * R wilcox.test(c(1,2,3), c(4,5,6), exact=FALSE) p = 0.08086 */
    double a3[] = {1, 2, 3}, b3[] = {4, 5, 6};
    CHECK(tb_mann_whitney(a3, 3, b3, 3, TB_MWU_EXACT, &m, &e) == TB_OK);
    CHECK(m.u_a == 0 && near(m.p, 0.1, 1e-15));
    CHECK(tb_mann_whitney(a3, 3, b3, 3, TB_MWU_ASYMPTOTIC, &m, &e) == TB_OK);
    CHECKF(near(m.p, 0.0808556, 1e-6), "p %.10g", m.p);
    /* 4 vs 4 separated: exact 2/C(8,4) = 2/70; scipy asymptotic 0.030382821976577504 */
    double a4[] = {1, 2, 3, 4}, b4[] = {5, 6, 7, 8};
    CHECK(tb_mann_whitney(a4, 4, b4, 4, TB_MWU_AUTO, &m, &e) == TB_OK);
    CHECK(m.exact && near(m.p, 2.0 / 70.0, 1e-15));
    CHECK(tb_mann_whitney(a4, 4, b4, 4, TB_MWU_ASYMPTOTIC, &m, &e) == TB_OK);
    CHECKF(near(m.p, 0.030382821976577504, 1e-12), "p %.17g", m.p);

    /* ties: the three 2s get midrank 3; U = 1; var = 9/12 * (7 - (3^3-3)/30) = 4.65,
     * z = (3.5 - 0.5)/sqrt(4.65), p = 0.1641597 (hand-derived, matches scipy) */
    double at[] = {1, 2, 2}, bt[] = {2, 3, 4};
    CHECK(tb_mann_whitney(at, 3, bt, 3, TB_MWU_AUTO, &m, &e) == TB_OK);
    CHECK(m.ties && !m.exact && m.u_a == 1);
    CHECKF(near(m.p, 0.1641597, 1e-6), "p %.10g", m.p);
    CHECK(near(m.p, erfc(3.0 / sqrt(4.65) / sqrt(2.0)), 1e-12));
    CHECK(tb_mann_whitney(at, 3, bt, 3, TB_MWU_EXACT, &m, &e) == TB_EUNSUPPORTED);

    /* no difference at all */
    double same[] = {5, 5, 5};
    CHECK(tb_mann_whitney(same, 3, same, 3, TB_MWU_AUTO, &m, &e) == TB_OK && m.p == 1);
    double mid_a[] = {1, 4}, mid_b[] = {2, 3};
    CHECK(tb_mann_whitney(mid_a, 2, mid_b, 2, TB_MWU_EXACT, &m, &e) == TB_OK && m.p == 1);

    /* exact and asymptotic agree for moderate sizes; a real shift is found */
    struct tb_rng r;
    tb_rng_seed(&r, 5);
    double x[8], y[40];
    for (int i = 0; i < 8; i++)
        x[i] = normal(&r) + 2.0;
    for (int i = 0; i < 40; i++)
        y[i] = normal(&r);
    struct tb_mwu ex, as;
    CHECK(tb_mann_whitney(x, 8, y, 40, TB_MWU_AUTO, &ex, &e) == TB_OK && ex.exact);
    CHECK(tb_mann_whitney(x, 8, y, 40, TB_MWU_ASYMPTOTIC, &as, &e) == TB_OK);
    CHECKF(near(ex.p, as.p, 0.01), "exact %g asymptotic %g", ex.p, as.p);
    CHECKF(ex.p < 0.01, "p %g", ex.p); /* a 2-sigma shift is plain to see */

    double nan_s[] = {1, NAN};
    CHECK(tb_mann_whitney(nan_s, 2, y, 3, TB_MWU_AUTO, &m, &e) == TB_EINVAL);
    CHECK(tb_mann_whitney(x, 0, y, 3, TB_MWU_AUTO, &m, &e) == TB_EINVAL);
}

/* ---- measurement loop */

struct counter {
    int calls;
    long sleep_ns;
    int fail_at;
    int nan_at;
    double max_call_s; /* the longest call, as the machine gave it */
};

static int count_fn(void *user, double *sample, struct tb_err *err)
{
    struct counter *c = user;
    const uint64_t t0 = tb_now_ns();
    if (c->sleep_ns)
        nanosleep(&(struct timespec){0, c->sleep_ns}, NULL);
    const double call_s = (double)(tb_now_ns() - t0) * 1e-9;
    if (call_s > c->max_call_s)
        c->max_call_s = call_s;
    if (c->fail_at >= 0 && c->calls == c->fail_at)
        return tb_err_set(err, TB_EBACKEND, "backend exploded at call %d", c->calls);
    *sample = c->nan_at >= 0 && c->calls == c->nan_at ? NAN : (double)c->calls;
    c->calls++;
    return TB_OK;
}

static void test_measure(void)
{
    struct tb_sample_set s;
    struct tb_err e = {0};
    struct counter c = {0, 0, -1, -1, 0};

    /* warm-up calls are made but their values are excluded */
    struct tb_measure_cfg cfg = {.warmup_count = 5, .min_samples = 10};
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_OK);
    CHECK(s.valid && s.n == 10 && s.warmup_n == 5 && c.calls == 15);
    CHECK(s.n > 0 && s.v[0] == 5 && s.v[9] == 14 && s.invalid_reason[0] == '\0');
    tb_sample_set_free(&s);

    /* min_samples cannot be met within max_time: INVALID with the reason */
    c = (struct counter){0, 10 * 1000 * 1000, -1, -1, 0};
    cfg = (struct tb_measure_cfg){.min_samples = 1000, .max_time_s = 0.1};
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_OK);
    CHECKF(!s.valid && strstr(s.invalid_reason, "min_samples"), "reason '%s'", s.invalid_reason);
    CHECKF(s.n >= 1 && s.n <= 11, "n %zu", s.n);
    tb_sample_set_free(&s);

    /* min_time keeps sampling after min_samples is reached */
    c = (struct counter){0, 1000 * 1000, -1, -1, 0};
    cfg = (struct tb_measure_cfg){
        .warmup_time_s = 0.02, .min_samples = 1, .min_time_s = 0.05, .max_time_s = 5};
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_OK);
    CHECK(s.valid && s.measured_s >= 0.05 && s.warmup_s >= 0.02 && s.warmup_n >= 1);
    /* past min_samples = 1: only a machine that stalled one 1 ms call past
     * min_time (beside a CPU hog) may stop after the first sample */
    CHECKF(s.n >= 2 || c.max_call_s >= 0.05, "n %zu, longest call %.3f s", s.n, c.max_call_s);
    CHECK(s.n > 0 && s.v[0] == (double)s.warmup_n);
    tb_sample_set_free(&s);

    /* max_samples cap hit before min_time: INVALID */
    c = (struct counter){0, 0, -1, -1, 0};
    cfg = (struct tb_measure_cfg){.min_samples = 2, .min_time_s = 10, .max_samples = 5};
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_OK);
    CHECKF(!s.valid && s.n == 5 && strstr(s.invalid_reason, "max_samples"), "'%s'",
           s.invalid_reason);
    tb_sample_set_free(&s);

    /* min_time not met within max_time: INVALID naming min_time_s */
    c = (struct counter){0, 1000 * 1000, -1, -1, 0};
    cfg = (struct tb_measure_cfg){.min_samples = 1, .min_time_s = 0.2, .max_time_s = 0.03};
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_EINVAL); /* max < min: bad config */
    cfg.warmup_time_s = 0.05;
    cfg.min_time_s = 0.02;
    cfg.max_time_s = 0.04; /* the warm-up alone uses up the watchdog */
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_OK);
    CHECKF(!s.valid && strstr(s.invalid_reason, "warm-up") && s.n == 0, "'%s'", s.invalid_reason);
    tb_sample_set_free(&s);

    /* callback failure propagates with its message; samples so far kept */
    c = (struct counter){0, 0, 7, -1, 0};
    cfg = (struct tb_measure_cfg){.warmup_count = 2, .min_samples = 20};
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_EBACKEND);
    CHECK(!s.valid && s.n == 5 && strstr(s.invalid_reason, "exploded at call 7"));
    tb_sample_set_free(&s);

    c = (struct counter){0, 0, -1, 3, 0};
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_ERANGE && !s.valid && s.n == 1);
    tb_sample_set_free(&s);

    cfg = (struct tb_measure_cfg){.min_samples = 0};
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_EINVAL);
    cfg = (struct tb_measure_cfg){.min_samples = 10, .max_samples = 5};
    CHECK(tb_measure_run(&cfg, count_fn, &c, &s, &e) == TB_EINVAL);
    tb_sample_set_free(&s);
}

static void test_rng(void)
{
    struct tb_rng a, b;
    tb_rng_seed(&a, 1);
    tb_rng_seed(&b, 1);
    int same = 1, hist[10] = {0};
    for (int i = 0; i < 10000; i++) {
        uint64_t x = tb_rng_below(&a, 10);
        same &= x == tb_rng_below(&b, 10);
        if (x < 10)
            hist[x]++;
    }
    CHECK(same);
    for (int i = 0; i < 10; i++)
        CHECKF(hist[i] > 850 && hist[i] < 1150, "bucket %d: %d", i, hist[i]);
}

int main(void)
{
    test_percentiles_1_to_100();
    test_constant_and_edge_cases();
    test_bootstrap();
    test_mann_whitney();
    test_measure();
    test_rng();
    return tb_test_result("test_stats");
}
