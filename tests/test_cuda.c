/* The "cuda" backend against cpu-ref: every op x type (Q4_0 included),
 * launch evidence from cudaEvents, device reporting. Exit 77 with the
 * reason when the build has no CUDA or the host has no device / driver;
 * creation must then fail cleanly (no crash, a message naming the cause). */
#include "accel_cases.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int main(void)
{
    const clock_t t0 = clock();
    struct tb_err err = {0};
    struct tb_backend *ref = NULL, *b = NULL;
    int rc = tb_backend_create("cuda", NULL, &b, &err);
    if (rc != TB_OK) {
        /* the disabled reason must say why */
        CHECKF(!b && (rc == TB_EUNSUPPORTED || rc == TB_EBACKEND) &&
                   strncmp(err.msg, "cuda: ", 6) == 0 && strlen(err.msg) > 10,
               "cuda creation failed badly: rc %d '%s'", rc, err.msg);
        if (tb_test_failures)
            return tb_test_result("test_cuda");
        printf("SKIP test_cuda: %s\n", err.msg);
        return TB_SKIP_CODE;
    }
    CHECK(tb_backend_create("cpu-ref", NULL, &ref, &err) == TB_OK);
    if (!ref)
        return tb_test_result("test_cuda");
    CHECK(tb_backend_device_kind(b) == TB_DEVICE_GPU);
    CHECK(strcmp(tb_backend_device_vendor(b), "NVIDIA") == 0);
    CHECK(strstr(tb_backend_device_name(b), "sm_") != NULL);
    printf("cuda device: %s\n", tb_backend_device_name(b));
    /* cuda's weight types (kernels/cuda): each must run; any other listed
     * type must be refused */
    const unsigned wtypes =
        (1u << TB_TYPE_F32) | (1u << TB_TYPE_F16) | (1u << TB_TYPE_Q8_0) | (1u << TB_TYPE_Q4_0);
    struct acc_run R = {.ref = ref, .b = b, .wtypes = wtypes};
    acc_run_all(&R);
    tb_backend_free(b);
    tb_backend_free(ref);
    printf("cpu time %.1f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    return tb_test_result("test_cuda");
}
