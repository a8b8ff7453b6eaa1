/* Kernel launchers of the cuda backend (cuda_kernels.cu), callable from C.
 * Pointers are device pointers; weight rows are packed (row i at i*nb1)
 * with ggml type ids: 0 f32, 1 f16, 2 q4_0, 8 q8_0. Each call is one kernel
 * launch on stream s and returns cudaGetLastError(). */
#ifndef TB_CUDA_KERNELS_H
#define TB_CUDA_KERNELS_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

cudaError_t tb_cuda_get_rows(cudaStream_t s, const void *table, size_t nb1, const int32_t *ids,
                             float *y, int K, int n, int type);
cudaError_t tb_cuda_matmul(cudaStream_t s, const void *W, size_t nb1, const float *X, float *Y,
                           int K, int N, int n, int type);
cudaError_t tb_cuda_rms_norm(cudaStream_t s, const float *x, const float *w, float *y, int K, int n,
                             float eps);
cudaError_t tb_cuda_rope(cudaStream_t s, const float *x, float *y, const float *freq, int hd,
                         int n_head, int n, int pos0);
cudaError_t tb_cuda_kv_store(cudaStream_t s, const float *x, void *dst, int dim, int n, int f16);
cudaError_t tb_cuda_attention(cudaStream_t s, const float *q, const void *kc, const void *vc,
                              float *y, float *scores, int hd, int n_head, int n_head_kv, int n,
                              int pos0, int n_kv_max, int non_causal, float scale, int kf16,
                              int vf16);
/* op 0 silu, 1 mul, 2 add */
cudaError_t tb_cuda_eltwise(cudaStream_t s, const float *a, const float *b, float *y, size_t count,
                            int op);

#ifdef __cplusplus
}
#endif
#endif
