// The cuda backend's kernels. Decode GEMV: one warp per weight row with
// vectorized loads (float4 / half2 rows, 2-byte loads inside the 34/18-byte
// quant blocks); the same kernel keeps up to MM_ROWS activation rows in
// registers, so a prefill batch reads each weight row once per tile.
// Accumulation is f32 throughout; activations are never quantized.
#include "kernels/cuda/cuda_kernels.h"

#include <cuda_fp16.h>
#include <math.h>

#define WARP 32
#define MM_WARPS 4 // weight rows per block
#define MM_ROWS 8  // activation rows per block
#define BLOCK 256  // row-reduction kernels
#define QK 32

namespace
{

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = WARP / 2; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = WARP / 2; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// sum (is_max 0) or max (1) over a block of BLOCK threads; all threads get it
__device__ float block_reduce(float v, int is_max)
{
    __shared__ float part[BLOCK / WARP];
    const int lane = threadIdx.x % WARP, w = threadIdx.x / WARP;
    v = is_max ? warp_max(v) : warp_sum(v);
    __syncthreads(); // part[] may still be read by a previous call
    if (lane == 0)
        part[w] = v;
    __syncthreads();
    v = lane < BLOCK / WARP ? part[lane] : (is_max ? -INFINITY : 0.0f);
    return is_max ? warp_max(v) : warp_sum(v);
}

__device__ __forceinline__ float load_half(const void *p, size_t i)
{
    return __half2float(reinterpret_cast<const __half *>(p)[i]);
}

// one weight element, dequantized exactly (GET_ROWS)
__device__ float load_w(const unsigned char *row, int k, int type)
{
    switch (type) {
    case 0: return reinterpret_cast<const float *>(row)[k];
    case 1: return load_half(row, k);
    case 8: {
        const unsigned char *b = row + (k / QK) * 34;
        return load_half(b, 0) * (float)reinterpret_cast<const signed char *>(b + 2)[k % QK];
    }
    default: { // q4_0: byte j holds element j (low nibble) and j+16 (high)
        const unsigned char *b = row + (k / QK) * 18;
        const int j = k % QK;
        const int q = j < 16 ? (b[2 + j] & 15) : (b[2 + j - 16] >> 4);
        return load_half(b, 0) * (float)(q - 8);
    }
    }
}

__global__ void k_get_rows(const unsigned char *table, size_t nb1, const int32_t *ids, float *y,
                           int K, int type)
{
    const int k = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y;
    if (k < K)
        y[(size_t)i * K + k] = load_w(table + (size_t)ids[i] * nb1, k, type);
}

template <int TYPE>
__global__ void k_matmul(const unsigned char *W, size_t nb1, const float *X, float *Y, int K, int N,
                         int n)
{
    const int lane = threadIdx.x % WARP;
    const int j = blockIdx.x * MM_WARPS + threadIdx.x / WARP;
    const int i0 = blockIdx.y * MM_ROWS;
    const int nr = min(MM_ROWS, n - i0);
    if (j >= N)
        return; // the whole warp leaves; no block-wide sync below
    const unsigned char *w = W + (size_t)j * nb1;
    const float *x = X + (size_t)i0 * K;
    float acc[MM_ROWS];
#pragma unroll
    for (int r = 0; r < MM_ROWS; r++)
        acc[r] = 0.0f;
    if (TYPE == 0 && (K & 3) == 0) { // 16-byte rows (cudaMalloc bases are 256-aligned)
        const float4 *w4 = reinterpret_cast<const float4 *>(w);
        for (int k4 = lane; k4 < K / 4; k4 += WARP) {
            const float4 wv = w4[k4];
#pragma unroll
            for (int r = 0; r < MM_ROWS; r++)
                if (r < nr) {
                    const float4 xv = reinterpret_cast<const float4 *>(x + (size_t)r * K)[k4];
                    acc[r] += wv.x * xv.x + wv.y * xv.y + wv.z * xv.z + wv.w * xv.w;
                }
        }
    } else if (TYPE == 1 && (K & 1) == 0) {
        const __half2 *w2 = reinterpret_cast<const __half2 *>(w);
        for (int k2 = lane; k2 < K / 2; k2 += WARP) {
            const float2 wv = __half22float2(w2[k2]);
#pragma unroll
            for (int r = 0; r < MM_ROWS; r++)
                if (r < nr) {
                    const float2 xv = reinterpret_cast<const float2 *>(x + (size_t)r * K)[k2];
                    acc[r] += wv.x * xv.x + wv.y * xv.y;
                }
        }
    } else if (TYPE == 0 || TYPE == 1) { // odd row lengths
        for (int k = lane; k < K; k += WARP) {
            const float wv = TYPE == 0 ? reinterpret_cast<const float *>(w)[k] : load_half(w, k);
#pragma unroll
            for (int r = 0; r < MM_ROWS; r++)
                if (r < nr)
                    acc[r] += wv * x[(size_t)r * K + k];
        }
    } else { // q8_0 (34-byte blocks) or q4_0 (18-byte): lanes stride over blocks
        const int bsize = TYPE == 8 ? 34 : 18;
        for (int b = lane; b < K / QK; b += WARP) {
            const unsigned char *blk = w + (size_t)b * bsize;
            const float d = load_half(blk, 0);
            // quants start 2 bytes in, so 2-byte loads are aligned
            const unsigned short *qs = reinterpret_cast<const unsigned short *>(blk + 2);
            float s[MM_ROWS];
#pragma unroll
            for (int r = 0; r < MM_ROWS; r++)
                s[r] = 0.0f;
            if (TYPE == 8) {
#pragma unroll 4
                for (int t = 0; t < QK / 2; t++) {
                    const unsigned short v = qs[t]; // elements 2t (low byte), 2t+1
                    const float q0 = (float)(signed char)(v & 0xff);
                    const float q1 = (float)(signed char)(v >> 8);
#pragma unroll
                    for (int r = 0; r < MM_ROWS; r++)
                        if (r < nr) {
                            const float *xb = x + (size_t)r * K + b * QK + 2 * t;
                            s[r] += q0 * xb[0] + q1 * xb[1];
                        }
                }
            } else {
#pragma unroll 4
                for (int t = 0; t < QK / 4; t++) {
                    const unsigned short v = qs[t]; // bytes 2t, 2t+1
                    const float lo0 = (float)((v & 15) - 8), lo1 = (float)(((v >> 8) & 15) - 8);
                    const float hi0 = (float)(((v >> 4) & 15) - 8), hi1 = (float)((v >> 12) - 8);
#pragma unroll
                    for (int r = 0; r < MM_ROWS; r++)
                        if (r < nr) {
                            const float *xb = x + (size_t)r * K + b * QK;
                            s[r] += lo0 * xb[2 * t] + lo1 * xb[2 * t + 1] + hi0 * xb[16 + 2 * t] +
                                    hi1 * xb[16 + 2 * t + 1];
                        }
                }
            }
#pragma unroll
            for (int r = 0; r < MM_ROWS; r++)
                acc[r] += d * s[r];
        }
    }
#pragma unroll
    for (int r = 0; r < MM_ROWS; r++) {
        const float v = warp_sum(acc[r]);
        if (lane == 0 && r < nr)
            Y[(size_t)(i0 + r) * N + j] = v;
    }
}

__global__ void k_rms_norm(const float *x, const float *w, float *y, int K, float eps)
{
    const float *xi = x + (size_t)blockIdx.x * K;
    float *yi = y + (size_t)blockIdx.x * K;
    float s = 0.0f;
    for (int k = threadIdx.x; k < K; k += BLOCK)
        s += xi[k] * xi[k];
    s = block_reduce(s, 0);
    const float scale = 1.0f / sqrtf(s / (float)K + eps);
    for (int k = threadIdx.x; k < K; k += BLOCK)
        yi[k] = xi[k] * scale * w[k];
}

__global__ void k_rope(const float *x, float *y, const float *freq, int hd, int n_head, int pos0)
{
    const int pr = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y;
    const int half_hd = hd / 2;
    if (pr >= n_head * half_hd)
        return;
    const int h = pr / half_hd, k = pr % half_hd;
    const size_t e = (size_t)i * hd * n_head + (size_t)h * hd + 2 * k;
    float s, c;
    sincosf((float)(pos0 + i) * freq[k], &s, &c);
    const float x0 = x[e], x1 = x[e + 1];
    y[e] = x0 * c - x1 * s;
    y[e + 1] = x0 * s + x1 * c;
}

__global__ void k_kv_store(const float *x, void *dst, int dim, int f16)
{
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= dim)
        return;
    const size_t e = (size_t)blockIdx.y * dim + k;
    if (f16)
        reinterpret_cast<__half *>(dst)[e] = __float2half_rn(x[e]);
    else
        reinterpret_cast<float *>(dst)[e] = x[e];
}

__device__ __forceinline__ float load_kv(const void *c, size_t i, int f16)
{
    return f16 ? load_half(c, i) : reinterpret_cast<const float *>(c)[i];
}

// one block per (head, query row); scores in a global scratch row; the V
// sum is compensated (Kahan) so long contexts keep f32 accuracy; non-causal
// rows all see 0..n_kv_max-1
__global__ void k_attention(const float *q, const void *kc, const void *vc, float *y, float *scores,
                            int hd, int n_head, int n_head_kv, int pos0, int n_kv_max,
                            int non_causal, float scale, int kf16, int vf16)
{
    const int h = blockIdx.x, i = blockIdx.y;
    const int kvh = h / (n_head / n_head_kv), n_kv = non_causal ? n_kv_max : pos0 + i + 1;
    const size_t qdim = (size_t)hd * n_head, kvdim = (size_t)hd * n_head_kv;
    const float *qh = q + i * qdim + (size_t)h * hd;
    float *sc = scores + ((size_t)i * n_head + h) * n_kv_max;
    float m = -INFINITY;
    for (int t = threadIdx.x; t < n_kv; t += BLOCK) {
        const size_t base = t * kvdim + (size_t)kvh * hd;
        float s = 0.0f;
        for (int d = 0; d < hd; d++)
            s += qh[d] * load_kv(kc, base + d, kf16);
        s *= scale;
        sc[t] = s;
        m = fmaxf(m, s);
    }
    m = block_reduce(m, 1);
    float sum = 0.0f;
    for (int t = threadIdx.x; t < n_kv; t += BLOCK) {
        const float e = expf(sc[t] - m);
        sc[t] = e;
        sum += e;
    }
    sum = block_reduce(sum, 0);
    __syncthreads(); // every score row entry written before it is read
    for (int d = threadIdx.x; d < hd; d += BLOCK) {
        float acc = 0.0f, comp = 0.0f;
        for (int t = 0; t < n_kv; t++) {
            const float v = sc[t] * load_kv(vc, t * kvdim + (size_t)kvh * hd + d, vf16) - comp;
            const float nacc = acc + v;
            comp = (nacc - acc) - v;
            acc = nacc;
        }
        y[i * qdim + (size_t)h * hd + d] = acc / sum;
    }
}

__global__ void k_eltwise(const float *a, const float *b, float *y, size_t count, int op)
{
    const size_t k = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= count)
        return;
    const float x = a[k];
    if (op == 0) { // never exp(+large): very negative x gives x*exp(x), not -0
        const float e = expf(-fabsf(x));
        y[k] = x >= 0.0f ? x / (1.0f + e) : x * e / (1.0f + e);
    } else {
        y[k] = op == 1 ? x * b[k] : x + b[k];
    }
}

unsigned blocks(size_t n, unsigned per)
{
    return (unsigned)((n + per - 1) / per);
}

// grid.y carries rows (65535 at most); larger ops must be split by the caller
bool rows_fit(int n)
{
    return n >= 1 && n <= 65535;
}

} // namespace

extern "C" {

cudaError_t tb_cuda_get_rows(cudaStream_t s, const void *table, size_t nb1, const int32_t *ids,
                             float *y, int K, int n, int type)
{
    if (!rows_fit(n))
        return cudaErrorInvalidConfiguration;
    k_get_rows<<<dim3(blocks((size_t)K, BLOCK), (unsigned)n), BLOCK, 0, s>>>(
        static_cast<const unsigned char *>(table), nb1, ids, y, K, type);
    return cudaGetLastError();
}

cudaError_t tb_cuda_matmul(cudaStream_t s, const void *W, size_t nb1, const float *X, float *Y,
                           int K, int N, int n, int type)
{
    const dim3 grid(blocks((size_t)N, MM_WARPS), blocks((size_t)n, MM_ROWS));
    const unsigned char *w = static_cast<const unsigned char *>(W);
    switch (type) {
    case 0: k_matmul<0><<<grid, MM_WARPS * WARP, 0, s>>>(w, nb1, X, Y, K, N, n); break;
    case 1: k_matmul<1><<<grid, MM_WARPS * WARP, 0, s>>>(w, nb1, X, Y, K, N, n); break;
    case 2: k_matmul<2><<<grid, MM_WARPS * WARP, 0, s>>>(w, nb1, X, Y, K, N, n); break;
    case 8: k_matmul<8><<<grid, MM_WARPS * WARP, 0, s>>>(w, nb1, X, Y, K, N, n); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

cudaError_t tb_cuda_rms_norm(cudaStream_t s, const float *x, const float *w, float *y, int K, int n,
                             float eps)
{
    k_rms_norm<<<(unsigned)n, BLOCK, 0, s>>>(x, w, y, K, eps);
    return cudaGetLastError();
}

cudaError_t tb_cuda_rope(cudaStream_t s, const float *x, float *y, const float *freq, int hd,
                         int n_head, int n, int pos0)
{
    if (!rows_fit(n))
        return cudaErrorInvalidConfiguration;
    k_rope<<<dim3(blocks((size_t)n_head * (size_t)(hd / 2), BLOCK), (unsigned)n), BLOCK, 0, s>>>(
        x, y, freq, hd, n_head, pos0);
    return cudaGetLastError();
}

cudaError_t tb_cuda_kv_store(cudaStream_t s, const float *x, void *dst, int dim, int n, int f16)
{
    if (!rows_fit(n))
        return cudaErrorInvalidConfiguration;
    k_kv_store<<<dim3(blocks((size_t)dim, BLOCK), (unsigned)n), BLOCK, 0, s>>>(x, dst, dim, f16);
    return cudaGetLastError();
}

cudaError_t tb_cuda_attention(cudaStream_t s, const float *q, const void *kc, const void *vc,
                              float *y, float *scores, int hd, int n_head, int n_head_kv, int n,
                              int pos0, int n_kv_max, int non_causal, float scale, int kf16,
                              int vf16)
{
    if (!rows_fit(n))
        return cudaErrorInvalidConfiguration;
    k_attention<<<dim3((unsigned)n_head, (unsigned)n), BLOCK, 0, s>>>(
        q, kc, vc, y, scores, hd, n_head, n_head_kv, pos0, n_kv_max, non_causal, scale, kf16, vf16);
    return cudaGetLastError();
}

cudaError_t tb_cuda_eltwise(cudaStream_t s, const float *a, const float *b, float *y, size_t count,
                            int op)
{
    k_eltwise<<<blocks(count, BLOCK), BLOCK, 0, s>>>(a, b, y, count, op);
    return cudaGetLastError();
}

} // extern "C"
