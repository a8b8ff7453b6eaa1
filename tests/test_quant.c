/* Known-answer tests for fp16 conversion and Q8_0 / Q4_0 quantization (and,
 * with the numbers in quant_kat.h, Q4_1 / Q5_0 / Q5_1 / BF16, and in
 * quant_kat_k.h, the K-quants Q6_K / Q4_K / Q5_K).
 *
 * Every expected number below was produced by ggml's own reference code
 * (ggml/src/ggml-quants.c quantize_row_q8_0_ref / quantize_row_q4_0_ref /
 * dequantize_row_*, ggml/src/ggml-impl.h ggml_compute_fp32_to_fp16 /
 * ggml_compute_fp16_to_fp32, ggml-org/ggml commit d99724f2b141) compiled
 * outside this repository on these exact inputs, and cross-checked against
 * kernels/types.c: quantization on 2M random 64-element rows and fp16
 * conversion exhaustively (all 2^32 floats, all 2^16 halves). Only the
 * numbers are kept here; none of ggml's code. */
#include "kernels/tb_error.h"
#include "kernels/tb_types.h"
#include "quant_kat.h"
#include "quant_kat_k.h"
#include "tb_test.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Hand-chosen inputs (64 elements = 2 blocks each); only exact, libm-free
 * float arithmetic so every platform builds the same bits. */
enum { N_INPUTS = 6, IN_N = 64 };
static const char *const k_input_names[N_INPUTS] = {
    "ramp", "mixed signs", "zeros then one tiny", "q8 half steps", "negative max", "q4 half steps",
};

static void make_input(int which, float *x)
{
    static const float q8_half[32] = {
        127.0f,       0.5f,  1.5f,   2.5f,  -0.5f,  -1.5f,  -2.5f,   126.5f,
        -126.5f,      63.5f, -63.5f, 3.5f,  -3.5f,  0.0f,   100.25f, -100.75f,
        4.5f,         5.5f,  -4.5f,  -5.5f, 31.5f,  32.5f,  -31.5f,  0.49999997f,
        -0.49999997f, 1.0f,  -1.0f,  64.5f, -64.5f, 126.0f, -127.0f, 7.5f};
    static const float q4_half[32] = {-8.0f, 0.5f,  -0.5f, 1.5f,  -1.5f,  7.5f,  7.0f,   6.5f,
                                      -7.5f, -6.5f, 2.5f,  -2.5f, 3.5f,   -3.5f, 0.0f,   4.5f,
                                      -4.5f, 5.5f,  -5.5f, 0.25f, -0.25f, 0.75f, -0.75f, 6.0f,
                                      -6.0f, 1.0f,  -1.0f, 7.25f, -7.25f, 2.0f,  -2.0f,  7.75f};
    for (int j = 0; j < IN_N; j++) {
        switch (which) {
        case 0: x[j] = (float)(j - 32) * 0.25f; break;
        case 1: x[j] = (float)((j % 3 == 0) ? -(j * j) : (j * j + 1)) / 97.0f; break;
        case 2: x[j] = (j == 40) ? 0.001f : 0.0f; break;
        case 3: x[j] = j < 32 ? q8_half[j] : -q8_half[j - 32] * 0.125f; break;
        case 4: x[j] = j == 5 || j == 37 ? -5.0f : (float)((j * 7) % 13 - 6) / 3.0f; break;
        default: x[j] = j < 32 ? q4_half[j] : -q4_half[j - 32]; break;
        }
    }
}

struct q8_case {
    uint16_t d[2]; /* fp16 scale bits of the two blocks */
    int8_t qs[64]; /* quants of both blocks */
    float deq[64]; /* dequantized values (bit-exact, -0.0f included) */
};
struct q4_case {
    uint16_t d[2];
    uint8_t qs[32]; /* byte j of a block: element j low nibble, j+16 high */
    float deq[64];
};

/* clang-format off */
static const struct q8_case k_q8[N_INPUTS] = {
    {{0x2c08, 0x2bd0},
     {-127, -123, -119, -115, -111, -107, -103, -99, -95, -91, -87, -83, -79, -75, -71, -67,
      -64, -60, -56, -52, -48, -44, -40, -36, -32, -28, -24, -20, -16, -12, -8, -4,
      0, 4, 8, 12, 16, 20, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61,
      66, 70, 74, 78, 82, 86, 90, 94, 98, 102, 107, 111, 115, 119, 123, 127 },
     {
        -7.99951172f, -7.74755859f, -7.49560547f, -7.24365234f, -6.99169922f, -6.73974609f, -6.48779297f, -6.23583984f,
        -5.98388672f, -5.73193359f, -5.47998047f, -5.22802734f, -4.97607422f, -4.72412109f, -4.47216797f, -4.22021484f,
        -4.03125f, -3.77929688f, -3.52734375f, -3.27539062f, -3.0234375f, -2.77148438f, -2.51953125f, -2.26757812f,
        -2.015625f, -1.76367188f, -1.51171875f, -1.25976562f, -1.0078125f, -0.755859375f, -0.50390625f, -0.251953125f,
        0.0f, 0.244140625f, 0.48828125f, 0.732421875f, 0.9765625f, 1.22070312f, 1.52587891f, 1.77001953f,
        2.01416016f, 2.25830078f, 2.50244141f, 2.74658203f, 2.99072266f, 3.23486328f, 3.47900391f, 3.72314453f,
        4.02832031f, 4.27246094f, 4.51660156f, 4.76074219f, 5.00488281f, 5.24902344f, 5.49316406f, 5.73730469f,
        5.98144531f, 6.22558594f, 6.53076172f, 6.77490234f, 7.01904297f, 7.26318359f, 7.50732422f, 7.75146484f,
     }},
    {{0x2cff, 0x3528},
     {0, 0, 1, -1, 2, 3, -5, 7, 9, -11, 13, 16, -19, 22, 26, -30,
      34, 38, -43, 48, 53, -58, 64, 70, -76, 83, 89, -96, 104, 111, -119, 127,
      33, -35, 37, 39, -41, 44, 46, -49, 51, 54, -56, 59, 62, -65, 68, 71,
      -74, 77, 80, -83, 87, 90, -93, 97, 100, -104, 108, 111, -115, 119, 123, -127 },
     {
        0.0f, 0.0f, 0.0780639648f, -0.0780639648f, 0.15612793f, 0.234191895f, -0.390319824f, 0.546447754f,
        0.702575684f, -0.858703613f, 1.01483154f, 1.24902344f, -1.48321533f, 1.71740723f, 2.02966309f, -2.34191895f,
        2.6541748f, 2.96643066f, -3.35675049f, 3.74707031f, 4.13739014f, -4.52770996f, 4.99609375f, 5.46447754f,
        -5.93286133f, 6.47930908f, 6.94769287f, -7.49414062f, 8.11865234f, 8.6651001f, -9.28961182f, 9.91412354f,
        10.6347656f, -11.2792969f, 11.9238281f, 12.5683594f, -13.2128906f, 14.1796875f, 14.8242188f, -15.7910156f,
        16.4355469f, 17.4023438f, -18.046875f, 19.0136719f, 19.9804688f, -20.9472656f, 21.9140625f, 22.8808594f,
        -23.8476562f, 24.8144531f, 25.78125f, -26.7480469f, 28.0371094f, 29.0039062f, -29.9707031f, 31.2597656f,
        32.2265625f, -33.515625f, 34.8046875f, 35.7714844f, -37.0605469f, 38.3496094f, 39.6386719f, -40.9277344f,
     }},
    {{0x0000, 0x0084},
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 127, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
     {
        0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
        0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
        0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
        0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
        0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
        0.000999212265f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
        0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
        0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
     }},
    {{0x3c00, 0x3000},
     {127, 1, 2, 3, -1, -2, -3, 127, -127, 64, -64, 4, -4, 0, 100, -101,
      5, 6, -5, -6, 32, 33, -32, 0, 0, 1, -1, 65, -65, 126, -127, 8,
      -127, -1, -2, -3, 1, 2, 3, -127, 127, -64, 64, -4, 4, 0, -100, 101,
      -5, -6, 5, 6, -32, -33, 32, 0, 0, -1, 1, -65, 65, -126, 127, -8 },
     {
        127.0f, 1.0f, 2.0f, 3.0f, -1.0f, -2.0f, -3.0f, 127.0f,
        -127.0f, 64.0f, -64.0f, 4.0f, -4.0f, 0.0f, 100.0f, -101.0f,
        5.0f, 6.0f, -5.0f, -6.0f, 32.0f, 33.0f, -32.0f, 0.0f,
        0.0f, 1.0f, -1.0f, 65.0f, -65.0f, 126.0f, -127.0f, 8.0f,
        -15.875f, -0.125f, -0.25f, -0.375f, 0.125f, 0.25f, 0.375f, -15.875f,
        15.875f, -8.0f, 8.0f, -0.5f, 0.5f, 0.0f, -12.5f, 12.625f,
        -0.625f, -0.75f, 0.625f, 0.75f, -4.0f, -4.125f, 4.0f, 0.0f,
        0.0f, -0.125f, 0.125f, -8.125f, 8.125f, -15.75f, 15.875f, -1.0f,
     }},
    {{0x290a, 0x290a},
     {-51, 8, -42, 17, -34, -127, -25, 34, -17, 42, -8, 51, 0, -51, 8, -42,
      17, -34, 25, -25, 34, -17, 42, -8, 51, 0, -51, 8, -42, 17, -34, 25,
      -25, 34, -17, 42, -8, -127, 0, -51, 8, -42, 17, -34, 25, -25, 34, -17,
      42, -8, 51, 0, -51, 8, -42, 17, -34, 25, -25, 34, -17, 42, -8, 51 },
     {
        -2.00775146f, 0.314941406f, -1.65344238f, 0.669250488f, -1.33850098f, -4.99969482f, -0.984191895f, 1.33850098f,
        -0.669250488f, 1.65344238f, -0.314941406f, 2.00775146f, 0.0f, -2.00775146f, 0.314941406f, -1.65344238f,
        0.669250488f, -1.33850098f, 0.984191895f, -0.984191895f, 1.33850098f, -0.669250488f, 1.65344238f, -0.314941406f,
        2.00775146f, 0.0f, -2.00775146f, 0.314941406f, -1.65344238f, 0.669250488f, -1.33850098f, 0.984191895f,
        -0.984191895f, 1.33850098f, -0.669250488f, 1.65344238f, -0.314941406f, -4.99969482f, 0.0f, -2.00775146f,
        0.314941406f, -1.65344238f, 0.669250488f, -1.33850098f, 0.984191895f, -0.984191895f, 1.33850098f, -0.669250488f,
        1.65344238f, -0.314941406f, 2.00775146f, 0.0f, -2.00775146f, 0.314941406f, -1.65344238f, 0.669250488f,
        -1.33850098f, 0.984191895f, -0.984191895f, 1.33850098f, -0.669250488f, 1.65344238f, -0.314941406f, 2.00775146f,
     }},
    {{0x2c08, 0x2c08},
     {-127, 8, -8, 24, -24, 119, 111, 103, -119, -103, 40, -40, 56, -56, 0, 71,
      -71, 87, -87, 4, -4, 12, -12, 95, -95, 16, -16, 115, -115, 32, -32, 123,
      127, -8, 8, -24, 24, -119, -111, -103, 119, 103, -40, 40, -56, 56, 0, -71,
      71, -87, 87, -4, 4, -12, 12, -95, 95, -16, 16, -115, 115, -32, 32, -123 },
     {
        -7.99951172f, 0.50390625f, -0.50390625f, 1.51171875f, -1.51171875f, 7.49560547f, 6.99169922f, 6.48779297f,
        -7.49560547f, -6.48779297f, 2.51953125f, -2.51953125f, 3.52734375f, -3.52734375f, 0.0f, 4.47216797f,
        -4.47216797f, 5.47998047f, -5.47998047f, 0.251953125f, -0.251953125f, 0.755859375f, -0.755859375f, 5.98388672f,
        -5.98388672f, 1.0078125f, -1.0078125f, 7.24365234f, -7.24365234f, 2.015625f, -2.015625f, 7.74755859f,
        7.99951172f, -0.50390625f, 0.50390625f, -1.51171875f, 1.51171875f, -7.49560547f, -6.99169922f, -6.48779297f,
        7.49560547f, 6.48779297f, -2.51953125f, 2.51953125f, -3.52734375f, 3.52734375f, 0.0f, -4.47216797f,
        4.47216797f, -5.47998047f, 5.47998047f, -0.251953125f, 0.251953125f, -0.755859375f, 0.755859375f, -5.98388672f,
        5.98388672f, -1.0078125f, 1.0078125f, -7.24365234f, 7.24365234f, -2.015625f, 2.015625f, -7.74755859f,
     }},
};
static const struct q4_case k_q4[N_INPUTS] = {
    {{0x3c00, 0xbbc0},
     {0x40, 0x40, 0x51, 0x51, 0x51, 0x51, 0x62, 0x62, 0x62, 0x62, 0x73, 0x73, 0x73, 0x73, 0x84, 0x84,
      0x48, 0x48, 0x37, 0x37, 0x37, 0x37, 0x26, 0x26, 0x26, 0x26, 0x15, 0x15, 0x15, 0x15, 0x04, 0x04 },
     {
        -8.0f, -8.0f, -7.0f, -7.0f, -7.0f, -7.0f, -6.0f, -6.0f,
        -6.0f, -6.0f, -5.0f, -5.0f, -5.0f, -5.0f, -4.0f, -4.0f,
        -4.0f, -4.0f, -3.0f, -3.0f, -3.0f, -3.0f, -2.0f, -2.0f,
        -2.0f, -2.0f, -1.0f, -1.0f, -1.0f, -1.0f, 0.0f, 0.0f,
        -0.0f, -0.0f, 0.96875f, 0.96875f, 0.96875f, 0.96875f, 1.9375f, 1.9375f,
        1.9375f, 1.9375f, 2.90625f, 2.90625f, 2.90625f, 2.90625f, 3.875f, 3.875f,
        3.875f, 3.875f, 4.84375f, 4.84375f, 4.84375f, 4.84375f, 5.8125f, 5.8125f,
        5.8125f, 5.8125f, 6.78125f, 6.78125f, 6.78125f, 6.78125f, 7.75f, 7.75f,
     }},
    {{0xbcf5, 0x451d},
     {0x68, 0x68, 0xb8, 0x58, 0x58, 0xc8, 0x48, 0x48, 0xd7, 0x39, 0x27, 0xe7, 0x19, 0x17, 0xf6, 0x0a,
      0x3a, 0xd6, 0xda, 0x3a, 0xd5, 0xeb, 0x2b, 0xe5, 0xeb, 0x1b, 0xf4, 0xfc, 0x1c, 0xf4, 0xfc, 0x0c },
     {
        -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
        1.23925781f, -1.23925781f, 1.23925781f, 1.23925781f, -1.23925781f, 1.23925781f, 2.47851562f, -2.47851562f,
        2.47851562f, 2.47851562f, -3.71777344f, 3.71777344f, 3.71777344f, -4.95703125f, 4.95703125f, 4.95703125f,
        -6.19628906f, 6.19628906f, 7.43554688f, -7.43554688f, 8.67480469f, 8.67480469f, -8.67480469f, 9.9140625f,
        10.2265625f, -10.2265625f, 10.2265625f, 10.2265625f, -15.3398438f, 15.3398438f, 15.3398438f, -15.3398438f,
        15.3398438f, 15.3398438f, -20.453125f, 20.453125f, 20.453125f, -20.453125f, 20.453125f, 20.453125f,
        -25.5664062f, 25.5664062f, 25.5664062f, -25.5664062f, 25.5664062f, 30.6796875f, -30.6796875f, 30.6796875f,
        30.6796875f, -35.7929688f, 35.7929688f, 35.7929688f, -35.7929688f, 35.7929688f, 35.7929688f, -40.90625f,
     }},
    {{0x8000, 0x8819},
     {0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88,
      0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x80, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88 },
     {
        -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
        -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
        -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
        -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
        -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
        0.00100040436f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
        -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
        -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f,
     }},
    {{0xcbf0, 0x3ff0},
     {0x80, 0x88, 0x88, 0x88, 0x68, 0x68, 0xa8, 0x80, 0x8f, 0x84, 0x8c, 0x48, 0xc8, 0x08, 0xf2, 0x8e,
      0x80, 0x88, 0x88, 0x88, 0x68, 0x68, 0xa8, 0x80, 0x8f, 0x84, 0x8c, 0x48, 0xc8, 0x08, 0xf2, 0x8e },
     {
        127.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, 127.0f,
        -111.125f, 63.5f, -63.5f, -0.0f, -0.0f, -0.0f, 95.25f, -95.25f,
        -0.0f, -0.0f, -0.0f, -0.0f, 31.75f, 31.75f, -31.75f, -0.0f,
        -0.0f, -0.0f, -0.0f, 63.5f, -63.5f, 127.0f, -111.125f, -0.0f,
        -15.875f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, -15.875f,
        13.890625f, -7.9375f, 7.9375f, 0.0f, 0.0f, 0.0f, -11.90625f, 11.90625f,
        0.0f, 0.0f, 0.0f, 0.0f, -3.96875f, -3.96875f, 3.96875f, 0.0f,
        0.0f, 0.0f, 0.0f, -7.9375f, 7.9375f, -15.875f, 13.890625f, 0.0f,
     }},
    {{0x3900, 0x3900},
     {0x95, 0x69, 0xa5, 0x69, 0xa6, 0x70, 0xb6, 0x7a, 0xb7, 0x8b, 0x57, 0x9b, 0x58, 0x95, 0x69, 0xa5,
      0xb6, 0x7a, 0xb7, 0x8b, 0x57, 0x90, 0x58, 0x95, 0x69, 0xa5, 0x69, 0xa6, 0x7a, 0xb6, 0x7a, 0xb7 },
     {
        -1.875f, 0.625f, -1.875f, 0.625f, -1.25f, -5.0f, -1.25f, 1.25f,
        -0.625f, 1.875f, -0.625f, 1.875f, 0.0f, -1.875f, 0.625f, -1.875f,
        0.625f, -1.25f, 1.25f, -1.25f, 1.25f, -0.625f, 1.875f, -0.625f,
        1.875f, 0.0f, -1.875f, 0.625f, -1.875f, 0.625f, -1.25f, 1.25f,
        -1.25f, 1.25f, -0.625f, 1.875f, -0.625f, -5.0f, 0.0f, -1.875f,
        0.625f, -1.875f, 0.625f, -1.25f, 1.25f, -1.25f, 1.25f, -0.625f,
        1.875f, -0.625f, 1.875f, 0.0f, -1.875f, 0.625f, -1.875f, 0.625f,
        -1.25f, 1.25f, -1.25f, 1.25f, -0.625f, 1.875f, -0.625f, 1.875f,
     }},
    {{0x3c00, 0xbc00},
     {0x40, 0xe9, 0x38, 0x8a, 0x87, 0x9f, 0x7f, 0xef, 0x21, 0x92, 0x7b, 0xf6, 0x1c, 0xa5, 0x68, 0xfd,
      0x40, 0xe9, 0x38, 0x8a, 0x87, 0x9f, 0x7f, 0xef, 0x21, 0x92, 0x7b, 0xf6, 0x1c, 0xa5, 0x68, 0xfd },
     {
        -8.0f, 1.0f, 0.0f, 2.0f, -1.0f, 7.0f, 7.0f, 7.0f,
        -7.0f, -6.0f, 3.0f, -2.0f, 4.0f, -3.0f, 0.0f, 5.0f,
        -4.0f, 6.0f, -5.0f, 0.0f, 0.0f, 1.0f, -1.0f, 6.0f,
        -6.0f, 1.0f, -1.0f, 7.0f, -7.0f, 2.0f, -2.0f, 7.0f,
        8.0f, -1.0f, -0.0f, -2.0f, 1.0f, -7.0f, -7.0f, -7.0f,
        7.0f, 6.0f, -3.0f, 2.0f, -4.0f, 3.0f, -0.0f, -5.0f,
        4.0f, -6.0f, 5.0f, -0.0f, -0.0f, -1.0f, 1.0f, -6.0f,
        6.0f, -1.0f, 1.0f, -7.0f, 7.0f, -2.0f, 2.0f, -7.0f,
     }},
};

/* float bits -> ggml fp16 bits: normals, overflow to inf, inf, NaN (quiet,
 * sign kept), subnormals, ties to even (subnormal and normal), carries. */
static const struct { uint32_t f; uint16_t h; } k_f2h[] = {
    {0x3f800000u, 0x3c00}, /* 1 */
    {0xc0000000u, 0xc000}, /* -2 */
    {0x80000000u, 0x8000}, /* -0 */
    {0x00000000u, 0x0000}, /* 0 */
    {0x477fe000u, 0x7bff}, /* 65504 */
    {0x477fefffu, 0x7bff}, /* 65519.9961 */
    {0x477ff000u, 0x7c00}, /* 65520 */
    {0x501502f9u, 0x7c00}, /* 1e+10 */
    {0xff800000u, 0xfc00}, /* -inf */
    {0x7f800000u, 0x7c00}, /* inf */
    {0x7fc00000u, 0x7e00}, /* nan */
    {0xffc00001u, 0xfe00}, /* -nan */
    {0x7f800001u, 0x7e00}, /* nan */
    {0x38800000u, 0x0400}, /* 6.10351562e-05 */
    {0x387fc000u, 0x03ff}, /* 6.09755516e-05 */
    {0x33800000u, 0x0001}, /* 5.96046448e-08 */
    {0x33000000u, 0x0000}, /* 2.98023224e-08 */
    {0x33000001u, 0x0001}, /* 2.98023259e-08 */
    {0x33c00000u, 0x0002}, /* 8.94069672e-08 */
    {0x34200000u, 0x0002}, /* 1.49011612e-07 */
    {0x2f800000u, 0x0000}, /* 2.32830644e-10 */
    {0x3f801000u, 0x3c00}, /* 1.00048828 */
    {0x3f803000u, 0x3c02}, /* 1.00146484 */
    {0x3f801001u, 0x3c01}, /* 1.0004884 */
    {0x3f7ff000u, 0x3c00}, /* 0.999755859 */
    {0x3f7ff800u, 0x3c00}, /* 0.99987793 */
    {0x44fff000u, 0x6800}, /* 2047.5 */
    {0x3eaaaaabu, 0x3555}, /* 0.333333343 */
    {0xb8000000u, 0x8200}, /* -3.05175781e-05 */
    {0x387fe000u, 0x0400}, /* 6.10053539e-05 */
};

/* fp16 bits -> float bits; signalling NaNs come back quiet, as in ggml. */
static const struct { uint16_t h; uint32_t f; } k_h2f[] = {
    {0x0001, 0x33800000u}, /* 5.96046448e-08 */
    {0x03ff, 0x387fc000u}, /* 6.09755516e-05 */
    {0x0400, 0x38800000u}, /* 6.10351562e-05 */
    {0x3c00, 0x3f800000u}, /* 1 */
    {0x3555, 0x3eaaa000u}, /* 0.333251953 */
    {0x7bff, 0x477fe000u}, /* 65504 */
    {0x7c00, 0x7f800000u}, /* inf */
    {0xfc00, 0xff800000u}, /* -inf */
    {0x7e00, 0x7fc00000u}, /* nan */
    {0x7c01, 0x7fc02000u}, /* nan */
    {0xfdff, 0xffffe000u}, /* -nan */
    {0x8000, 0x80000000u}, /* -0 */
    {0x8001, 0xb3800000u}, /* -5.96046448e-08 */
    {0xc000, 0xc0000000u}, /* -2 */
};
/* clang-format on */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* First differing element of two float arrays compared bit for bit, or -1. */
static int first_bit_diff(const float *a, const float *b, int n)
{
    for (int j = 0; j < n; j++)
        if (f2u(a[j]) != f2u(b[j]))
            return j;
    return -1;
}

static void test_fp16_tables(void)
{
    for (size_t i = 0; i < sizeof k_f2h / sizeof k_f2h[0]; i++) {
        const tb_fp16 h = tb_fp32_to_fp16(u2f(k_f2h[i].f));
        CHECKF(h == k_f2h[i].h, "fp32 0x%08x -> fp16 0x%04x, ggml gives 0x%04x", k_f2h[i].f, h,
               k_f2h[i].h);
    }
    for (size_t i = 0; i < sizeof k_h2f / sizeof k_h2f[0]; i++) {
        const uint32_t f = f2u(tb_fp16_to_fp32(k_h2f[i].h));
        CHECKF(f == k_h2f[i].f, "fp16 0x%04x -> fp32 0x%08x, ggml gives 0x%08x", k_h2f[i].h, f,
               k_h2f[i].f);
    }
}

/* Every half survives half -> float -> half; NaNs stay NaN with their sign. */
static void test_fp16_roundtrip_all(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = tb_fp16_to_fp32((tb_fp16)h);
        const tb_fp16 back = tb_fp32_to_fp16(f);
        const bool is_nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
        const bool ok =
            is_nan ? (isnan(f) && back == (tb_fp16)((h & 0x8000u) | 0x7e00u)) : back == (tb_fp16)h;
        if (!ok && bad++ < 5)
            fprintf(stderr, "fp16 0x%04x -> %g -> 0x%04x\n", h, (double)f, back);
    }
    CHECKF(bad == 0, "%d halves do not round-trip", bad);
    /* convert_row / dequantize_row_f16 are the same conversions */
    const float x[4] = {1.0f, -65520.0f, 5.9604645e-08f, 0.33333334f};
    tb_fp16 h[4];
    float y[4];
    tb_convert_row_f16(x, h, 4);
    tb_dequantize_row_f16(h, y, 4);
    CHECK(h[0] == 0x3c00 && h[1] == 0xfc00 && h[2] == 0x0001 && h[3] == 0x3555);
    CHECK(f2u(y[0]) == 0x3f800000u && isinf(y[1]) && y[1] < 0 && f2u(y[2]) == 0x33800000u &&
          f2u(y[3]) == 0x3eaaa000u);
}

static void test_q8_0_known(void)
{
    float x[IN_N], y[IN_N];
    for (int w = 0; w < N_INPUTS; w++) {
        struct tb_block_q8_0 b[2], g[2];
        unsigned char want[2 * 34];
        make_input(w, x);
        memset(b, 0xa5, sizeof b);
        tb_quantize_row_q8_0(x, b, IN_N);
        /* the on-disk bytes: little-endian fp16 scale, then 32 int8 quants */
        for (int i = 0; i < 2; i++) {
            want[i * 34] = (unsigned char)(k_q8[w].d[i] & 0xff);
            want[i * 34 + 1] = (unsigned char)(k_q8[w].d[i] >> 8);
            memcpy(want + i * 34 + 2, k_q8[w].qs + i * 32, 32);
        }
        CHECKF(memcmp(b, want, sizeof want) == 0,
               "q8_0 '%s': bytes differ from ggml (d %04x %04x, want %04x %04x)", k_input_names[w],
               b[0].d, b[1].d, k_q8[w].d[0], k_q8[w].d[1]);
        for (int j = 0; j < IN_N; j++)
            CHECKF(b[j / 32].qs[j % 32] == k_q8[w].qs[j], "q8_0 '%s' x[%d] = %.9g: q %d, want %d",
                   k_input_names[w], j, (double)x[j], b[j / 32].qs[j % 32], k_q8[w].qs[j]);
        tb_dequantize_row_q8_0(b, y, IN_N);
        int j = first_bit_diff(y, k_q8[w].deq, IN_N);
        CHECKF(j < 0, "q8_0 '%s' dequant[%d] = %.9g, want %.9g", k_input_names[w], j,
               (double)y[j < 0 ? 0 : j], (double)k_q8[w].deq[j < 0 ? 0 : j]);
        /* the type-generic entry points give the same */
        CHECK(tb_quantize_row(TB_TYPE_Q8_0, x, g, IN_N) == TB_OK && memcmp(g, b, sizeof b) == 0);
        memset(y, 0, sizeof y);
        CHECK(tb_dequantize_row(TB_TYPE_Q8_0, g, y, IN_N) == TB_OK &&
              first_bit_diff(y, k_q8[w].deq, IN_N) < 0);
    }
}

static void test_q4_0_known(void)
{
    float x[IN_N], y[IN_N];
    for (int w = 0; w < N_INPUTS; w++) {
        struct tb_block_q4_0 b[2], g[2];
        unsigned char want[2 * 18];
        make_input(w, x);
        memset(b, 0xa5, sizeof b);
        tb_quantize_row_q4_0(x, b, IN_N);
        for (int i = 0; i < 2; i++) {
            want[i * 18] = (unsigned char)(k_q4[w].d[i] & 0xff);
            want[i * 18 + 1] = (unsigned char)(k_q4[w].d[i] >> 8);
            memcpy(want + i * 18 + 2, k_q4[w].qs + i * 16, 16);
        }
        CHECKF(memcmp(b, want, sizeof want) == 0,
               "q4_0 '%s': bytes differ from ggml (d %04x %04x, want %04x %04x)", k_input_names[w],
               b[0].d, b[1].d, k_q4[w].d[0], k_q4[w].d[1]);
        for (int j = 0; j < 32; j++)
            CHECKF(b[j / 16].qs[j % 16] == k_q4[w].qs[j], "q4_0 '%s' byte %d: 0x%02x, want 0x%02x",
                   k_input_names[w], j, b[j / 16].qs[j % 16], k_q4[w].qs[j]);
        tb_dequantize_row_q4_0(b, y, IN_N);
        int j = first_bit_diff(y, k_q4[w].deq, IN_N);
        CHECKF(j < 0, "q4_0 '%s' dequant[%d] = %.9g, want %.9g", k_input_names[w], j,
               (double)y[j < 0 ? 0 : j], (double)k_q4[w].deq[j < 0 ? 0 : j]);
        CHECK(tb_quantize_row(TB_TYPE_Q4_0, x, g, IN_N) == TB_OK && memcmp(g, b, sizeof b) == 0);
        memset(y, 0, sizeof y);
        CHECK(tb_dequantize_row(TB_TYPE_Q4_0, g, y, IN_N) == TB_OK &&
              first_bit_diff(y, k_q4[w].deq, IN_N) < 0);
    }
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static float rnd_uniform(void) /* [-1, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* Error bounds on random blocks. With d32 the exact f32 scale and d16 the
 * stored fp16 one, quantization rounds x/d32 to nearest, then dequantizes
 * with d16: |err| <= d32/2 + |q| * |d32 - d16|. q4_0 values of the opposite
 * sign to the block max can saturate at +7 instead of +8: bound |d32| there.
 * A 1e-6 relative slack covers the f32 rounding of the products. */
static void test_quant_error_bounds(void)
{
    enum { N = 256 };
    float x[N], y[N];
    struct tb_block_q8_0 b8[N / 32];
    struct tb_block_q4_0 b4[N / 32];
    int bad8 = 0, bad4 = 0;
    for (int it = 0; it < 200; it++) {
        const float mag = it % 3 == 0 ? 1e-3f : it % 3 == 1 ? 1.0f : 300.0f;
        for (int j = 0; j < N; j++)
            x[j] = rnd_uniform() * mag;
        tb_quantize_row_q8_0(x, b8, N);
        tb_dequantize_row_q8_0(b8, y, N);
        tb_quantize_row_q4_0(x, b4, N);
        float y4[N];
        tb_dequantize_row_q4_0(b4, y4, N);
        for (int i = 0; i < N / 32; i++) {
            float amax = 0.0f, max = 0.0f;
            for (int j = 0; j < 32; j++)
                if (fabsf(x[i * 32 + j]) > amax) {
                    amax = fabsf(x[i * 32 + j]);
                    max = x[i * 32 + j];
                }
            const double d8 = amax / 127.0f, e8 = fabs(d8 - tb_fp16_to_fp32(b8[i].d));
            const double d4 = max / -8.0f, e4 = fabs(d4 - tb_fp16_to_fp32(b4[i].d));
            for (int j = i * 32; j < i * 32 + 32; j++) {
                if (!(fabs((double)x[j] - y[j]) <= 0.5 * d8 + 127.0 * e8 + 1e-6 * amax))
                    bad8++;
                if (!(fabs((double)x[j] - y4[j]) <= fabs(d4) + 8.0 * e4 + 1e-6 * amax))
                    bad4++;
            }
        }
    }
    CHECKF(bad8 == 0, "%d q8_0 values outside their error bound", bad8);
    CHECKF(bad4 == 0, "%d q4_0 values outside their error bound", bad4);
}

/* q4_1, q5_0, q5_1 (tests/quant_kat.h): our quantizer's bytes equal ggml's,
 * and dequantizing ggml's bytes (and ours) gives ggml's floats bit for bit. */
static void check_q_known(int type, const struct kat_q *kat)
{
    const size_t bytes = 2 * tb_type_traits(type)->type_size;
    float x[IN_N], y[IN_N], want[IN_N];
    for (int w = 0; w < N_INPUTS; w++) {
        unsigned char b[48];
        make_input(w, x);
        memset(b, 0xa5, sizeof b);
        CHECK(tb_quantize_row(type, x, b, IN_N) == TB_OK);
        size_t k = 0;
        while (k < bytes && b[k] == kat[w].bytes[k])
            k++;
        CHECKF(k == bytes, "%s '%s': byte %zu is 0x%02x, ggml gives 0x%02x", tb_type_name(type),
               k_input_names[w], k, b[k < bytes ? k : 0], kat[w].bytes[k < bytes ? k : 0]);
        for (int j = 0; j < IN_N; j++)
            want[j] = u2f(kat[w].deq[j]);
        memcpy(b, kat[w].bytes, bytes);
        CHECK(tb_dequantize_row(type, b, y, IN_N) == TB_OK);
        int j = first_bit_diff(y, want, IN_N);
        CHECKF(j < 0, "%s '%s' dequant[%d] = %.9g, ggml gives %.9g", tb_type_name(type),
               k_input_names[w], j, (double)y[j < 0 ? 0 : j], (double)want[j < 0 ? 0 : j]);
    }
}

static void test_q4_1_q5_known(void)
{
    check_q_known(TB_TYPE_Q4_1, k_kat_q4_1);
    check_q_known(TB_TYPE_Q5_0, k_kat_q5_0);
    check_q_known(TB_TYPE_Q5_1, k_kat_q5_1);
    /* the typed entry points are the ones tb_quantize_row dispatches to */
    float x[IN_N], y[IN_N];
    struct tb_block_q5_1 b[2];
    make_input(1, x);
    tb_quantize_row_q5_1(x, b, IN_N);
    CHECK(memcmp(b, k_kat_q5_1[1].bytes, sizeof b) == 0);
    tb_dequantize_row_q5_1(b, y, IN_N);
    CHECK(f2u(y[7]) == k_kat_q5_1[1].deq[7]);
}

/* The K-quants (tests/quant_kat_k.h): one super-block of 256 per input;
 * our quantizer's bytes and our dequantization of ggml's bytes equal ggml's.
 * kat points at KAT_K_INPUTS entries of `stride` bytes: the block, then the
 * dequantized floats at deq_off. */
static void check_k_known(int type, const void *kat, size_t stride, size_t deq_off)
{
    const size_t bytes = tb_type_traits(type)->type_size;
    float x[KAT_K_N], y[KAT_K_N], want[KAT_K_N];
    unsigned char b[256];
    for (int w = 0; w < KAT_K_INPUTS; w++) {
        const unsigned char *e = (const unsigned char *)kat + (size_t)w * stride;
        make_input_k(w, x);
        memset(b, 0xa5, sizeof b);
        CHECK(tb_quantize_row(type, x, b, KAT_K_N) == TB_OK);
        size_t k = 0;
        while (k < bytes && b[k] == e[k])
            k++;
        CHECKF(k == bytes, "%s input %d: byte %zu is 0x%02x, ggml gives 0x%02x", tb_type_name(type),
               w, k, b[k < bytes ? k : 0], e[k < bytes ? k : 0]);
        CHECK(b[bytes] == 0xa5); /* one block written, no more */
        memcpy(want, e + deq_off, sizeof want);
        memcpy(b, e, bytes);
        CHECK(tb_dequantize_row(type, b, y, KAT_K_N) == TB_OK);
        int j = first_bit_diff(y, want, KAT_K_N);
        CHECKF(j < 0, "%s input %d dequant[%d] = %.9g, ggml gives %.9g", tb_type_name(type), w, j,
               (double)y[j < 0 ? 0 : j], (double)want[j < 0 ? 0 : j]);
    }
}

static void test_k_known(void)
{
    check_k_known(TB_TYPE_Q6_K, k_kat_q6_K, sizeof k_kat_q6_K[0], offsetof(struct kat_q6_K, deq));
    check_k_known(TB_TYPE_Q4_K, k_kat_q4_K, sizeof k_kat_q4_K[0], offsetof(struct kat_q4_K, deq));
    check_k_known(TB_TYPE_Q5_K, k_kat_q5_K, sizeof k_kat_q5_K[0], offsetof(struct kat_q5_K, deq));
    /* the typed entry points; two super-blocks in a row are each their own */
    float x2[2 * KAT_K_N], y[KAT_K_N];
    struct tb_block_q6_K b6[2];
    struct tb_block_q4_K b4[2];
    struct tb_block_q5_K b5[2];
    make_input_k(3, x2);
    make_input_k(0, x2 + KAT_K_N);
    tb_quantize_row_q6_K(x2, b6, 2 * KAT_K_N);
    CHECK(memcmp(&b6[0], k_kat_q6_K[3].bytes, 210) == 0);
    CHECK(memcmp(&b6[1], k_kat_q6_K[0].bytes, 210) == 0);
    tb_quantize_row_q4_K(x2, b4, 2 * KAT_K_N);
    CHECK(memcmp(&b4[0], k_kat_q4_K[3].bytes, 144) == 0);
    CHECK(memcmp(&b4[1], k_kat_q4_K[0].bytes, 144) == 0);
    tb_quantize_row_q5_K(x2, b5, 2 * KAT_K_N);
    CHECK(memcmp(&b5[0], k_kat_q5_K[3].bytes, 176) == 0);
    CHECK(memcmp(&b5[1], k_kat_q5_K[0].bytes, 176) == 0);
    tb_dequantize_row_q6_K(&b6[1], y, KAT_K_N);
    CHECK(f2u(y[9]) == k_kat_q6_K[0].deq[9]);
    tb_dequantize_row_q4_K(&b4[1], y, KAT_K_N);
    CHECK(f2u(y[200]) == k_kat_q4_K[0].deq[200]);
    tb_dequantize_row_q5_K(&b5[1], y, KAT_K_N);
    CHECK(f2u(y[77]) == k_kat_q5_K[0].deq[77]);
}

/* The K-quants on random super-blocks (magnitudes 2^-6..2^13, every third
 * sub-block 100x smaller, every third row offset by 2x its magnitude): no
 * value is off by more than amax / D of its super-block, D = 24 (q6_K), 10
 * (q5_K), 5 (q4_K). Measured worst over 200k blocks (outside the repo, same
 * pattern): amax / 37.6, / 13.8, / 7.7. The fp16 d underflows to 0 for amax
 * below about 2^-12, as in ggml, so tinier blocks are not tested. */
static void test_k_bounds(void)
{
    static const int types[] = {TB_TYPE_Q6_K, TB_TYPE_Q5_K, TB_TYPE_Q4_K};
    static const float div[] = {24.0f, 10.0f, 5.0f};
    int bad[3] = {0, 0, 0};
    float x[KAT_K_N], y[KAT_K_N];
    unsigned char b[256];
    for (int r = 0; r < 2000; r++) {
        const float mag = ldexpf(1.0f, r % 20 - 6), off = r % 3 == 0 ? 2.0f * mag : 0.0f;
        float amax = 0.0f;
        for (int i = 0; i < KAT_K_N; i++) {
            x[i] = rnd_uniform() * mag * ((i / 16) % 3 == 0 ? 0.01f : 1.0f) + off;
            amax = fmaxf(amax, fabsf(x[i]));
        }
        for (int t = 0; t < 3; t++) {
            CHECK(tb_quantize_row(types[t], x, b, KAT_K_N) == TB_OK);
            CHECK(tb_dequantize_row(types[t], b, y, KAT_K_N) == TB_OK);
            for (int i = 0; i < KAT_K_N; i++)
                bad[t] += !(fabsf(x[i] - y[i]) <= amax / div[t]);
        }
    }
    for (int t = 0; t < 3; t++)
        CHECKF(bad[t] == 0, "%d %s values outside their error bound", bad[t],
               tb_type_name(types[t]));
}

/* bf16: the rows of the inputs, then special values (rounding ties, the
 * overflow to Inf, subnormals, NaNs made quiet with their sign kept). */
static void test_bf16_known(void)
{
    float x[IN_N], y[IN_N];
    for (int w = 0; w < N_INPUTS; w++) {
        tb_bf16 h[IN_N];
        make_input(w, x);
        CHECK(tb_quantize_row(TB_TYPE_BF16, x, h, IN_N) == TB_OK);
        CHECK(tb_dequantize_row(TB_TYPE_BF16, h, y, IN_N) == TB_OK);
        for (int j = 0; j < IN_N; j++) {
            CHECKF(h[j] == k_kat_bf16[w][j], "bf16 '%s' x[%d] = %.9g: 0x%04x, ggml gives 0x%04x",
                   k_input_names[w], j, (double)x[j], h[j], k_kat_bf16[w][j]);
            CHECK(f2u(y[j]) == (uint32_t)k_kat_bf16[w][j] << 16);
        }
    }
    for (size_t i = 0; i < sizeof k_kat_bf16_special / sizeof k_kat_bf16_special[0]; i++) {
        const struct kat_bf16 *k = &k_kat_bf16_special[i];
        const tb_bf16 h = tb_fp32_to_bf16(u2f(k->f));
        CHECKF(h == k->h, "fp32 0x%08x -> bf16 0x%04x, ggml gives 0x%04x", k->f, h, k->h);
        const uint32_t back = f2u(tb_bf16_to_fp32(k->h));
        CHECKF(back == k->back, "bf16 0x%04x -> fp32 0x%08x, ggml gives 0x%08x", k->h, back,
               k->back);
    }
    /* any n (bf16 has no blocks) */
    tb_bf16 h3[3];
    tb_quantize_row_bf16((const float[]){1.0f, -2.0f, 0.5f}, h3, 3);
    tb_dequantize_row_bf16(h3, y, 3);
    CHECK(h3[0] == 0x3f80 && h3[1] == 0xc000 && h3[2] == 0x3f00 && y[1] == -2.0f);
}

/* Bounds of q4_1, q5_0, q5_1, bf16 on random blocks. q4_1/q5_1 with d32 =
 * (max - min) / steps exact and d16, m16 the stored fp16 scale and minimum:
 * |err| <= d32/2 + steps |d32 - d16| + |min - m16|. q5_0 as q4_0 with 16
 * steps (the top step can saturate: bound |d32|). bf16 rounds to nearest:
 * |err| <= 2^-8 |x|. A 1e-6 relative slack covers the f32 products. */
static void test_quant_error_bounds_more(void)
{
    enum { N = 256 };
    float x[N], y[N];
    struct tb_block_q4_1 b41[N / 32];
    struct tb_block_q5_0 b50[N / 32];
    struct tb_block_q5_1 b51[N / 32];
    tb_bf16 h[N];
    int bad[4] = {0};
    for (int it = 0; it < 300; it++) {
        const float mag = it % 3 == 0 ? 1e-3f : it % 3 == 1 ? 1.0f : 300.0f;
        const float off = it % 5 == 0 ? 2.0f * mag : 0.0f; /* all one sign: min far from 0 */
        for (int j = 0; j < N; j++)
            x[j] = rnd_uniform() * mag + off;
        for (int t = 0; t < 3; t++) {
            const int steps = t == 0 ? 15 : t == 1 ? 16 : 31;
            if (t == 0) {
                tb_quantize_row_q4_1(x, b41, N);
                tb_dequantize_row_q4_1(b41, y, N);
            } else if (t == 1) {
                tb_quantize_row_q5_0(x, b50, N);
                tb_dequantize_row_q5_0(b50, y, N);
            } else {
                tb_quantize_row_q5_1(x, b51, N);
                tb_dequantize_row_q5_1(b51, y, N);
            }
            for (int i = 0; i < N / 32; i++) {
                float mn = x[i * 32], mx = x[i * 32], amax = 0.0f, smax = 0.0f;
                for (int j = i * 32; j < i * 32 + 32; j++) {
                    mn = fminf(mn, x[j]);
                    mx = fmaxf(mx, x[j]);
                    if (fabsf(x[j]) > amax) {
                        amax = fabsf(x[j]);
                        smax = x[j];
                    }
                }
                double bound;
                if (t == 1) {
                    const double d = smax / -16.0f;
                    bound = fabs(d) + 16.0 * fabs(d - tb_fp16_to_fp32(b50[i].d));
                } else {
                    const double d = (mx - mn) / (float)steps;
                    const tb_fp16 d16 = t == 0 ? b41[i].d : b51[i].d;
                    const tb_fp16 m16 = t == 0 ? b41[i].m : b51[i].m;
                    bound = 0.5 * d + steps * fabs(d - tb_fp16_to_fp32(d16)) +
                            fabs(mn - tb_fp16_to_fp32(m16));
                }
                for (int j = i * 32; j < i * 32 + 32; j++)
                    bad[t] += !(fabs((double)x[j] - y[j]) <= bound + 1e-6 * amax);
            }
        }
        tb_quantize_row_bf16(x, h, N);
        tb_dequantize_row_bf16(h, y, N);
        for (int j = 0; j < N; j++)
            bad[3] += !(fabs((double)x[j] - y[j]) <= ldexp(fabs(x[j]), -8));
    }
    CHECKF(bad[0] == 0, "%d q4_1 values outside their error bound", bad[0]);
    CHECKF(bad[1] == 0, "%d q5_0 values outside their error bound", bad[1]);
    CHECKF(bad[2] == 0, "%d q5_1 values outside their error bound", bad[2]);
    CHECKF(bad[3] == 0, "%d bf16 values outside their error bound", bad[3]);
}

static void test_row_sizes(void)
{
    CHECK(tb_row_size(TB_TYPE_Q8_0, 64) == 68);
    CHECK(tb_row_size(TB_TYPE_Q4_0, 64) == 36);
    CHECK(tb_row_size(TB_TYPE_F16, 3) == 6);
    CHECK(tb_row_size(TB_TYPE_Q8_0, 33) == 0);
    CHECK(tb_row_size(TB_TYPE_Q4_1, 64) == 40 && tb_row_size(TB_TYPE_Q5_0, 64) == 44);
    CHECK(tb_row_size(TB_TYPE_Q5_1, 64) == 48 && tb_row_size(TB_TYPE_BF16, 3) == 6);
    CHECK(tb_row_size(TB_TYPE_Q5_0, 48) == 0);
    CHECK(tb_row_size(TB_TYPE_Q6_K, 512) == 420 && tb_row_size(TB_TYPE_Q6_K, 64) == 0);
    CHECK(tb_row_size(TB_TYPE_Q6_K, 288) == 0);
    /* names ignore case: ggml writes q6_K, llama.cpp's tools Q6_K */
    CHECK(tb_type_from_name("q6_k") == TB_TYPE_Q6_K && tb_type_from_name("Q6_K") == TB_TYPE_Q6_K);
    CHECK(tb_type_from_name("Q8_0") == TB_TYPE_Q8_0 && tb_type_from_name("q6_") == -1);
    CHECK(tb_type_from_name("q8_k") == -1); /* known type, not a weight type */
    /* q8_1: ggml's activation type, never a weight type */
    CHECK(tb_quantize_row(TB_TYPE_Q8_1, NULL, NULL, 32) == TB_EUNSUPPORTED);
    CHECK(tb_dequantize_row(TB_TYPE_Q8_1, NULL, NULL, 32) == TB_EUNSUPPORTED);
}

/* The list of kernels/tb_wtypes.h against the traits, the name parser, the
 * masks and the row conversions: every listed type round-trips a row of
 * 256 values within its coarsest step, and nothing else is listed. */
static void test_wtype_list(void)
{
    static const int ids[] = {TB_WTYPES(TB_WTYPE_ID)};
    CHECK(sizeof ids / sizeof ids[0] == (size_t)TB_WTYPE_COUNT);
    char names[128];
    tb_wtype_names(names, sizeof names, "|");
    char want[128] = "";
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        strcat(want, i ? "|" : "");
        strcat(want, tb_type_name(ids[i]));
    }
    CHECKF(!strcmp(names, want) && !strncmp(names, "f32|f16|", 8), "%s", names);
    char small[6];
    CHECK(!strcmp(tb_wtype_names(small, sizeof small, ", "), "f32")); /* cut at a whole name */
    int n = 0;
    for (int t = 0; t < TB_TYPE_ID_LIMIT; t++) {
        const struct tb_type_traits *tr = tb_type_traits(t);
        const bool listed = tb_wtype_ok(t);
        n += listed;
        CHECKF(!tr || tr->compute == listed, "%s: compute %d, listed %d", tr->name, tr->compute,
               listed);
        CHECK(!listed || (tr && tb_type_from_name(tr->name) == t));
        CHECK(listed || !tr || tb_type_from_name(tr->name) == -1);
        if (!listed)
            continue;
        float x[256], y[256]; /* 256: a whole K-quant super-block */
        unsigned char q[256 * 4];
        for (int i = 0; i < 256; i++)
            x[i] = sinf(0.37f * (float)i) * 2.0f;
        CHECK(tb_row_size(t, 256) <= sizeof q);
        CHECK(tb_quantize_row(t, x, q, 256) == TB_OK && tb_dequantize_row(t, q, y, 256) == TB_OK);
        double e = 0;
        for (int i = 0; i < 256; i++)
            e = fmax(e, fabs((double)y[i] - x[i]));
        /* amax = 2: q4_0's clamped top step is off by up to amax / 8 */
        CHECKF(e <= 2.0 / 8.0, "%s: round trip off by %g", tr->name, e);
    }
    CHECK(n == TB_WTYPE_COUNT);
}

int main(void)
{
    test_fp16_tables();
    test_fp16_roundtrip_all();
    test_q8_0_known();
    test_q4_0_known();
    test_q4_1_q5_known();
    test_k_known();
    test_k_bounds();
    test_bf16_known();
    test_quant_error_bounds();
    test_quant_error_bounds_more();
    test_row_sizes();
    test_wtype_list();
    return tb_test_result("test_quant");
}
