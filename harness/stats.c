#include "harness/tb_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/* ---------------------------------------------------------------- PRNG */

void tb_rng_seed(struct tb_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t tb_rng_next(struct tb_rng *r)
{
    /* splitmix64 (Steele, Lea, Flood 2014): tiny state, passes BigCrush */
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t tb_rng_below(struct tb_rng *r, uint64_t bound)
{
    /* reject the low values that would make x % bound biased */
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t x = tb_rng_next(r);
        if (x >= threshold)
            return x % bound;
    }
}

double tb_rng_uniform(struct tb_rng *r)
{
    return (double)(tb_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---------------------------------------------------------- statistics */

void tb_stats_opts_default(struct tb_stats_opts *o)
{
    o->bootstrap_resamples = 2000;
    o->seed = 0x7462;
    o->noisy_cv = 0.05;
}

int tb_cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* lo + frac (hi - lo); when hi - lo overflows (finite values of opposite sign
 * near DBL_MAX) the weighted sum, which cannot overflow, instead. */
static double interp(double lo, double hi, double frac)
{
    double d = hi - lo;
    return isfinite(d) || !isfinite(lo) || !isfinite(hi) ? lo + frac * d
                                                         : (1.0 - frac) * lo + frac * hi;
}

double tb_percentile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    if (q <= 0)
        return sorted[0];
    if (q >= 100)
        return sorted[n - 1];
    double h = (double)(n - 1) * q / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return sorted[n - 1];
    double frac = h - (double)lo;
    return interp(sorted[lo], sorted[lo + 1], frac);
}

double tb_median(const double *v, size_t n)
{
    if (n == 0)
        return NAN;
    double *c = malloc(n * sizeof *c);
    if (!c)
        return NAN;
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, tb_cmp_double);
    const double m = tb_percentile_sorted(c, n, 50);
    free(c);
    return m;
}

static int check_finite(const double *x, size_t n, const char *what, struct tb_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return tb_err_set(err, TB_EINVAL, "%s: sample %zu is not finite (%g)", what, i, x[i]);
    return TB_OK;
}

/* Value of the sorted resample at rank position k (0-based), where counts[i]
 * says how many times sorted[i] was drawn; walks the cumulative counts. */
static double rank_value(const double *sorted, const uint32_t *counts, size_t n, size_t k)
{
    size_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        if (k < cum)
            return sorted[i];
    }
    return sorted[n - 1];
}

/* Median of one bootstrap resample. Resampling the sorted data by drawing
 * indices and counting them makes the resample's order statistics available
 * without sorting: O(n) per resample instead of O(n log n). */
static double resample_median(const double *sorted, uint32_t *counts, size_t n, struct tb_rng *rng)
{
    memset(counts, 0, n * sizeof *counts);
    for (size_t i = 0; i < n; i++)
        counts[tb_rng_below(rng, n)]++;
    /* same definition as tb_percentile_sorted at q = 50 */
    double h = (double)(n - 1) * 0.5;
    size_t lo = (size_t)floor(h);
    double vlo = rank_value(sorted, counts, n, lo);
    if (h == (double)lo)
        return vlo;
    double vhi = rank_value(sorted, counts, n, lo + 1);
    return interp(vlo, vhi, h - (double)lo);
}

int tb_stats_compute(const double *x, size_t n, const struct tb_stats_opts *opts,
                     struct tb_stats *out, struct tb_err *err)
{
    struct tb_stats_opts def;
    if (!opts) {
        tb_stats_opts_default(&def);
        opts = &def;
    }
    if (!x || !out || n == 0)
        return tb_err_set(err, TB_EINVAL, "stats: no samples (n = %zu)", n);
    int rc = check_finite(x, n, "stats", err);
    if (rc)
        return rc;

    double *s = malloc(n * sizeof *s);
    if (!s)
        return tb_err_set(err, TB_ENOMEM, "stats: cannot allocate %zu samples", n);
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, tb_cmp_double);

    memset(out, 0, sizeof *out);
    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];
    out->median = tb_percentile_sorted(s, n, 50);
    out->p90 = tb_percentile_sorted(s, n, 90);
    out->p95 = tb_percentile_sorted(s, n, 95);
    out->p99 = tb_percentile_sorted(s, n, 99);

    /* Welford: numerically stable mean/variance in one pass */
    double mean = 0, m2 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - mean;
        mean += d / (double)(i + 1);
        m2 += d * (x[i] - mean);
    }
    out->mean = mean;
    out->stddev = n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;
    out->cv = mean != 0 ? out->stddev / fabs(mean) : NAN;
    out->noisy = isnan(out->cv) ? out->stddev > 0 : out->cv > opts->noisy_cv;

    out->median_ci_lo = out->median_ci_hi = NAN;
    unsigned b = opts->bootstrap_resamples;
    if (b > 0) {
        double *meds = malloc(b * sizeof *meds);
        uint32_t *counts = n <= UINT32_MAX ? malloc(n * sizeof *counts) : NULL;
        if (!meds || !counts) {
            free(meds);
            free(counts);
            free(s);
            return tb_err_set(err, TB_ENOMEM, "stats: cannot allocate bootstrap buffers (n = %zu)",
                              n);
        }
        struct tb_rng rng;
        tb_rng_seed(&rng, opts->seed);
        for (unsigned i = 0; i < b; i++)
            meds[i] = resample_median(s, counts, n, &rng);
        qsort(meds, b, sizeof *meds, tb_cmp_double);
        out->median_ci_lo = tb_percentile_sorted(meds, b, 2.5);
        out->median_ci_hi = tb_percentile_sorted(meds, b, 97.5);
        free(counts);
        free(meds);
    }
    free(s);
    return TB_OK;
}

/* -------------------------------------------------------- Mann-Whitney */

struct tagged {
    double v;
    int from_a;
};

static int cmp_tagged(const void *pa, const void *pb)
{
    const struct tagged *a = pa, *b = pb;
    return (a->v > b->v) - (a->v < b->v);
}

/* Number of arrangements of the null distribution of U for sizes (m, n):
 * coefficients of the Gaussian binomial [m+n choose m]_q, built as
 * prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i). After step i the polynomial is
 * [n+i choose i]_q, so every intermediate is bounded by 2*C(m+n, m); the
 * caller ensures that fits. Returns NULL on allocation failure. */
static int64_t *mwu_null_counts(size_t m, size_t n)
{
    size_t len = m * n + 1;
    int64_t *c = calloc(len, sizeof *c);
    if (!c)
        return NULL;
    c[0] = 1;
    size_t deg = 0;
    for (size_t i = 1; i <= m; i++) {
        size_t k = n + i;
        deg += n;
        /* multiply by (1 - q^k): descending so c[j-k] is still the old value */
        size_t top = deg + i < len - 1 ? deg + i : len - 1; /* terms above m*n cancel */
        for (size_t j = top; j >= k; j--)
            c[j] -= c[j - k];
        /* divide by (1 - q^i): exact polynomial division = stride-i prefix sum */
        for (size_t j = i; j < len; j++)
            c[j] += c[j - i];
    }
    return c;
}

/* log of C(m+n, m), to decide whether exact counts fit in int64 */
static double log_binom(size_t m, size_t n)
{
    return lgamma((double)(m + n + 1)) - lgamma((double)(m + 1)) - lgamma((double)(n + 1));
}

int tb_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                    enum tb_mwu_method method, struct tb_mwu *out, struct tb_err *err)
{
    if (!a || !b || !out || na == 0 || nb == 0)
        return tb_err_set(err, TB_EINVAL, "mann-whitney: empty sample (na = %zu, nb = %zu)", na,
                          nb);
    int rc = check_finite(a, na, "mann-whitney sample a", err);
    if (!rc)
        rc = check_finite(b, nb, "mann-whitney sample b", err);
    if (rc)
        return rc;

    size_t n = na + nb;
    struct tagged *t = malloc(n * sizeof *t);
    if (!t)
        return tb_err_set(err, TB_ENOMEM, "mann-whitney: cannot allocate %zu values", n);
    for (size_t i = 0; i < na; i++)
        t[i] = (struct tagged){a[i], 1};
    for (size_t i = 0; i < nb; i++)
        t[na + i] = (struct tagged){b[i], 0};
    qsort(t, n, sizeof *t, cmp_tagged);

    /* midranks; tie term sum(t^3 - t) for the variance correction */
    double rank_sum_a = 0, tie_term = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v)
            j++;
        double midrank = ((double)i + (double)j) / 2.0 + 1.0;
        double cnt = (double)(j - i + 1);
        tie_term += cnt * cnt * cnt - cnt;
        for (size_t k = i; k <= j; k++)
            if (t[k].from_a)
                rank_sum_a += midrank;
        i = j + 1;
    }
    free(t);

    double dna = (double)na, dnb = (double)nb, dn = (double)n;
    memset(out, 0, sizeof *out);
    out->u_a = rank_sum_a - dna * (dna + 1) / 2.0;
    out->u_b = dna * dnb - out->u_a;
    out->ties = tie_term > 0;
    double u = out->u_a > out->u_b ? out->u_a : out->u_b;

    size_t mn = na < nb ? na : nb, mx = na < nb ? nb : na;
    /* 2*C fits in int64 with margin when log C < 61 ln 2 */
    int exact_fits = log_binom(mn, mx) < 61.0 * log(2.0) && mn * mx < 100000000u;
    int use_exact = 0;
    if (method == TB_MWU_EXACT) {
        if (out->ties || !exact_fits)
            return tb_err_set(err, TB_EUNSUPPORTED,
                              "mann-whitney: exact p-value needs untied data and small samples "
                              "(na = %zu, nb = %zu, ties = %d)",
                              na, nb, out->ties);
        use_exact = 1;
    } else if (method == TB_MWU_AUTO) {
        use_exact = !out->ties && mn <= 8 && exact_fits;
    } else if (method != TB_MWU_ASYMPTOTIC) {
        return tb_err_set(err, TB_EINVAL, "mann-whitney: unknown method %d", (int)method);
    }

    if (use_exact) {
        int64_t *c = mwu_null_counts(mn, mx);
        if (!c)
            return tb_err_set(err, TB_ENOMEM, "mann-whitney: cannot allocate null distribution");
        size_t len = mn * mx + 1, ui = (size_t)u; /* untied: U is an integer */
        double total = 0, tail = 0;
        for (size_t k = 0; k < len; k++) {
            total += (double)c[k];
            if (k >= ui)
                tail += (double)c[k];
        }
        free(c);
        out->p = 2.0 * tail / total;
        out->z = NAN;
        out->exact = 1;
    } else {
        double mu = dna * dnb / 2.0;
        double var = dna * dnb / 12.0 * ((dn + 1.0) - tie_term / (dn * (dn - 1.0)));
        if (var <= 0) {
            /* all values tied: no evidence of any difference */
            out->z = 0;
            out->p = 1;
        } else {
            out->z = (u - mu - 0.5) / sqrt(var);
            out->p = erfc(out->z / sqrt(2.0));
        }
    }
    if (out->p > 1)
        out->p = 1;
    if (out->p < 0)
        out->p = 0;
    return TB_OK;
}

/* ----------------------------------------------------- measurement loop */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void tb_sample_set_free(struct tb_sample_set *s)
{
    if (!s)
        return;
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* vsnprintf: a long callback message is cut to fit, by design */
static void mark_invalid(struct tb_sample_set *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void mark_invalid(struct tb_sample_set *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s->valid = 0;
    vsnprintf(s->invalid_reason, sizeof s->invalid_reason, fmt, ap);
    va_end(ap);
}

int tb_measure_run(const struct tb_measure_cfg *cfg, tb_measure_fn fn, void *user,
                   struct tb_sample_set *out, struct tb_err *err)
{
    if (!out)
        return tb_err_set(err, TB_EINVAL, "measure: no output sample set");
    memset(out, 0, sizeof *out);
    if (!cfg || !fn)
        return tb_err_set(err, TB_EINVAL, "measure: missing config or callback");
    if (cfg->min_samples == 0)
        return tb_err_set(err, TB_EINVAL, "measure: min_samples must be >= 1");
    if (cfg->max_samples && cfg->max_samples < cfg->min_samples)
        return tb_err_set(err, TB_EINVAL, "measure: max_samples (%zu) < min_samples (%zu)",
                          cfg->max_samples, cfg->min_samples);
    if (!(cfg->warmup_time_s >= 0) || !(cfg->min_time_s >= 0) || !(cfg->max_time_s >= 0))
        return tb_err_set(err, TB_EINVAL, "measure: times must be >= 0");
    if (cfg->max_time_s > 0 && cfg->max_time_s < cfg->min_time_s)
        return tb_err_set(err, TB_EINVAL, "measure: max_time_s (%g) < min_time_s (%g)",
                          cfg->max_time_s, cfg->min_time_s);

    const double t0 = now_s();
    const double deadline = cfg->max_time_s > 0 ? t0 + cfg->max_time_s : INFINITY;
    double scratch;
    int rc;

    while (out->warmup_n < cfg->warmup_count || now_s() - t0 < cfg->warmup_time_s) {
        if (now_s() >= deadline) {
            out->warmup_s = now_s() - t0;
            mark_invalid(out, "max_time_s (%g s) expired during warm-up (%g s elapsed)",
                         cfg->max_time_s, out->warmup_s);
            return TB_OK;
        }
        if ((rc = fn(user, &scratch, err)) != 0) {
            out->warmup_s = now_s() - t0;
            mark_invalid(out, "warm-up call failed: %s", err ? err->msg : tb_strerror(rc));
            return rc;
        }
        out->warmup_n++;
    }
    const double t1 = now_s();
    out->warmup_s = t1 - t0;

    for (;;) {
        double now = now_s();
        out->measured_s = now - t1;
        if (out->n >= cfg->min_samples && out->measured_s >= cfg->min_time_s) {
            out->valid = 1;
            return TB_OK;
        }
        if (cfg->max_samples && out->n >= cfg->max_samples) {
            mark_invalid(out, "max_samples (%zu) reached after %g s, before min_time_s (%g s)",
                         cfg->max_samples, out->measured_s, cfg->min_time_s);
            return TB_OK;
        }
        if (now >= deadline) {
            /* the watchdog cut: say which minimum was missed */
            if (out->n < cfg->min_samples)
                mark_invalid(out, "max_time_s (%g s) expired with %zu of min_samples %zu samples",
                             cfg->max_time_s, out->n, cfg->min_samples);
            else
                mark_invalid(out, "max_time_s (%g s) expired after %g s of min_time_s %g s",
                             cfg->max_time_s, out->measured_s, cfg->min_time_s);
            return TB_OK;
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            double *v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                mark_invalid(out, "out of memory after %zu samples", out->n);
                return tb_err_set(err, TB_ENOMEM, "measure: cannot grow sample buffer to %zu", cap);
            }
            out->v = v;
            out->cap = cap;
        }
        double sample = NAN;
        if ((rc = fn(user, &sample, err)) != 0) {
            out->measured_s = now_s() - t1;
            mark_invalid(out, "measured call %zu failed: %s", out->n,
                         err ? err->msg : tb_strerror(rc));
            return rc;
        }
        if (!isfinite(sample)) {
            out->measured_s = now_s() - t1;
            mark_invalid(out, "measured call %zu returned a non-finite sample", out->n);
            return tb_err_set(err, TB_ERANGE, "measure: sample %zu is not finite (%g)", out->n,
                              sample);
        }
        out->v[out->n++] = sample;
    }
}
