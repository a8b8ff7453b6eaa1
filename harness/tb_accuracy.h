/* Accuracy beside speed: logits of a run compared with reference logits
 * over the same teacher-forced positions. KL is KL(P_ref || P_run) in nats
 * over softmax of each position's logits, computed in double with max
 * subtraction. */
#ifndef TB_ACCURACY_H
#define TB_ACCURACY_H

#include <stdint.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tb_accuracy {
    int32_t n_positions;
    double top1_agreement; /* fraction of positions with the same argmax */
    double kl_mean;        /* mean over positions */
    double kl_p99;         /* 99th percentile over positions (linear interpolation) */
    double kl_max;
    double max_abs_err; /* max |logit_run - logit_ref| */
    int non_finite;     /* positions whose run logits hold NaN/Inf (KL = Inf there) */
};

/* ref, run: [n_pos x vocab] row-major. */
int tb_accuracy_compare(const float *ref, const float *run, int32_t n_pos, int32_t vocab,
                        struct tb_accuracy *out, struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif
