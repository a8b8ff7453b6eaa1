/* Statistics over raw samples, the Mann-Whitney U test, and the LoadGen-style
 * measurement loop that produces the samples.
 *
 * Percentile definition (used everywhere here): linear interpolation between
 * closest ranks, numpy's default ("linear", Hyndman & Fan type 7): for sorted
 * x[0..n-1] and q in [0,100], h = (n-1)*q/100, result
 * x[floor(h)] + (h - floor(h)) * (x[floor(h)+1] - x[floor(h)]).
 * The median is the 50th percentile under this definition.
 *
 * Samples are never modified; statistics reject NaN/Inf samples (TB_EINVAL)
 * instead of silently producing a NaN figure. */
#ifndef TB_STATS_H
#define TB_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- deterministic PRNG (splitmix64): bootstrap resampling and tests. */
struct tb_rng {
    uint64_t state;
};
void tb_rng_seed(struct tb_rng *r, uint64_t seed);
uint64_t tb_rng_next(struct tb_rng *r);
/* Uniform integer in [0, bound), unbiased (rejection); bound > 0. */
uint64_t tb_rng_below(struct tb_rng *r, uint64_t bound);
/* Uniform double in [0, 1) with 53 random bits. */
double tb_rng_uniform(struct tb_rng *r);

/* ---- descriptive statistics */

/* qsort comparator for doubles, ascending (NaNs compare equal to all). */
int tb_cmp_double(const void *a, const void *b);
/* Median of v[0..n-1] (copied, v is not modified) under the percentile
 * definition above; NaN when n == 0 or out of memory. */
double tb_median(const double *v, size_t n);
struct tb_stats_opts {
    unsigned bootstrap_resamples; /* 0 disables the CI (ci fields = NaN) */
    uint64_t seed;                /* bootstrap PRNG seed: same seed, same CI */
    double noisy_cv;              /* noisy = cv > noisy_cv */
};

/* 2000 resamples, seed 0x7462 ("tb"), noisy when CV > 0.05. */
void tb_stats_opts_default(struct tb_stats_opts *o);

struct tb_stats {
    size_t n;
    double min, mean, median, p90, p95, p99, max;
    double stddev; /* sample standard deviation (n-1 denominator); 0 when n == 1 */
    double cv;     /* stddev / |mean|; NaN when mean == 0 (undefined) */
    /* Bootstrap 95% percentile interval of the median (2.5th/97.5th
     * percentile of the resampled medians); NaN when disabled. */
    double median_ci_lo, median_ci_hi;
    int noisy; /* 1 when cv > noisy_cv, or cv undefined (mean 0) while stddev > 0 */
};

/* Percentile q in [0,100] of an ascending-sorted array (definition above). */
double tb_percentile_sorted(const double *sorted, size_t n, double q);

/* Computes all fields; n >= 1; every sample finite. opts NULL = defaults. */
int tb_stats_compute(const double *x, size_t n, const struct tb_stats_opts *opts,
                     struct tb_stats *out, struct tb_err *err);

/* ---- Mann-Whitney U test (two-sided), as scipy.stats.mannwhitneyu. */
enum tb_mwu_method {
    /* exact when there are no ties, min(na,nb) <= 8 and the null
     * distribution fits 64-bit counts (scipy's classic 'auto' rule);
     * asymptotic otherwise */
    TB_MWU_AUTO = 0,
    TB_MWU_EXACT,      /* TB_EUNSUPPORTED when there are ties or sizes too large */
    TB_MWU_ASYMPTOTIC, /* normal approximation, tie + continuity correction */
};

struct tb_mwu {
    double u_a; /* U statistic of sample a: pairs (a_i, b_j) with a_i > b_j, ties 1/2 */
    double u_b; /* na*nb - u_a */
    double z;   /* asymptotic z of max(u_a,u_b) (continuity-corrected); NaN when exact */
    double p;   /* two-sided p-value, clipped to [0,1] */
    int exact;  /* 1 when p came from the exact null distribution */
    int ties;   /* 1 when the pooled samples contain ties */
};

/* All samples finite, na >= 1, nb >= 1. When every value is tied the
 * asymptotic variance is 0; p is then 1 (no evidence of a difference). */
int tb_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                    enum tb_mwu_method method, struct tb_mwu *out, struct tb_err *err);

/* ---- measurement loop (MLPerf LoadGen style)
 * 1. warm-up: call fn until warmup_count calls AND warmup_time_s seconds are
 *    done; those values are discarded;
 * 2. measure: call fn until min_samples samples AND min_time_s seconds of
 *    measured time are collected (then stop), or a cap is hit: max_samples
 *    (0 = no cap) or max_time_s (0 = no cap; counted from the start of the
 *    run, warm-up included, so it works as a watchdog).
 * A run that stops on a cap before both minimums are met is INVALID
 * (valid = 0) with the reason in invalid_reason; its samples are kept so the
 * caller can still show them, marked invalid. */
struct tb_measure_cfg {
    size_t warmup_count;
    double warmup_time_s;
    size_t min_samples; /* >= 1 */
    double min_time_s;
    size_t max_samples; /* 0 = no cap; else >= min_samples */
    double max_time_s;  /* 0 = no cap */
};

/* One measured iteration: store the sample (e.g. latency in s or tokens/s)
 * in *sample. Returns 0 or a negative TB_E* code (stops the run). */
typedef int (*tb_measure_fn)(void *user, double *sample, struct tb_err *err);

#define TB_INVALID_REASON_MAX 256

struct tb_sample_set {
    double *v; /* n measured samples, warm-up excluded; owned, free with tb_sample_set_free */
    size_t n, cap;
    size_t warmup_n;                            /* warm-up calls made */
    double warmup_s;                            /* warm-up wall time */
    double measured_s;                          /* wall time of the measured phase */
    int valid;                                  /* 1 = both minimums met */
    char invalid_reason[TB_INVALID_REASON_MAX]; /* "" when valid */
};

/* Returns 0 when the loop ran (valid or INVALID: check out->valid), TB_EINVAL
 * for a bad cfg, the callback's code if it failed (out then holds the samples
 * so far and is marked INVALID with the callback's message), TB_ERANGE for a
 * non-finite sample, TB_ENOMEM. out is reset first; always free it. */
int tb_measure_run(const struct tb_measure_cfg *cfg, tb_measure_fn fn, void *user,
                   struct tb_sample_set *out, struct tb_err *err);
void tb_sample_set_free(struct tb_sample_set *s);

#ifdef __cplusplus
}
#endif
#endif
