#include "harness/tb_accuracy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_stats.h"
#include "workloads/tb_workload.h"

/* log-softmax of x into out (double); returns 0 if x is not all finite. */
static int log_softmax(const float *x, int32_t n, double *out)
{
    double mx = -INFINITY;
    for (int32_t j = 0; j < n; j++) {
        if (!isfinite(x[j]))
            return 0;
        mx = x[j] > mx ? x[j] : mx;
    }
    double sum = 0.0;
    for (int32_t j = 0; j < n; j++)
        sum += exp((double)x[j] - mx);
    const double lse = mx + log(sum);
    for (int32_t j = 0; j < n; j++)
        out[j] = (double)x[j] - lse;
    return 1;
}

int tb_accuracy_compare(const float *ref, const float *run, int32_t n_pos, int32_t vocab,
                        struct tb_accuracy *out, struct tb_err *err)
{
    memset(out, 0, sizeof *out);
    if (n_pos < 1 || vocab < 1)
        return tb_err_set(err, TB_EINVAL, "accuracy: need at least one position and token");
    double *lp = malloc(sizeof(double) * (size_t)vocab * 2);
    double *kl = malloc(sizeof(double) * (size_t)n_pos);
    if (!lp || !kl) {
        free(lp);
        free(kl);
        return tb_err_set(err, TB_ENOMEM, "accuracy: out of memory");
    }
    double *lq = lp + vocab;
    int same = 0;
    for (int32_t i = 0; i < n_pos; i++) {
        const float *r = ref + (size_t)i * (size_t)vocab, *x = run + (size_t)i * (size_t)vocab;
        same += tb_argmax(r, vocab) == tb_argmax(x, vocab);
        for (int32_t j = 0; j < vocab; j++) {
            const double d = fabs((double)x[j] - (double)r[j]);
            if (d > out->max_abs_err || isnan(d))
                out->max_abs_err = isnan(d) ? INFINITY : d;
        }
        if (!log_softmax(r, vocab, lp) || !log_softmax(x, vocab, lq)) {
            kl[i] = INFINITY;
            out->non_finite++;
            continue;
        }
        double k = 0.0;
        for (int32_t j = 0; j < vocab; j++)
            k += exp(lp[j]) * (lp[j] - lq[j]);
        kl[i] = k < 0.0 ? 0.0 : k; /* rounding can give -1e-17 */
    }
    double sum = 0.0;
    for (int32_t i = 0; i < n_pos; i++) {
        sum += kl[i];
        out->kl_max = kl[i] > out->kl_max ? kl[i] : out->kl_max;
    }
    out->n_positions = n_pos;
    out->top1_agreement = (double)same / n_pos;
    out->kl_mean = sum / n_pos;
    if (out->non_finite) {
        out->kl_p99 = INFINITY;
    } else {
        qsort(kl, (size_t)n_pos, sizeof *kl, tb_cmp_double);
        out->kl_p99 = tb_percentile_sorted(kl, (size_t)n_pos, 99.0);
    }
    free(lp);
    free(kl);
    return TB_OK;
}
