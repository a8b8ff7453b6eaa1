/* The "opencl" backend (PoCL here): creation and device reporting (the kind
 * the runtime reports for the device, name and vendor), every supported op
 * x type against cpu-ref (accel_cases.h), Q4_0 refused by supports_op,
 * launch evidence, device selection errors and a kernel build failure
 * (forced through TB_OPENCL_EXTRA_BUILD_OPTIONS) reported as a clean
 * disabled reason. Exit 77 when the build or the host has no OpenCL. */
#include "accel_cases.h"

#ifdef TB_HAVE_OPENCL
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef TB_HAVE_OPENCL
/* The device type platform 0 / device 0 reports, independently of tb. */
static enum tb_device_kind runtime_kind(char *name, size_t n)
{
    cl_platform_id plat;
    cl_device_id dev;
    cl_device_type type = 0;
    if (clGetPlatformIDs(1, &plat, NULL) != CL_SUCCESS ||
        clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL) != CL_SUCCESS)
        return TB_DEVICE_OTHER;
    clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_NAME, n, name, NULL);
    return (type & CL_DEVICE_TYPE_GPU)   ? TB_DEVICE_GPU
           : (type & CL_DEVICE_TYPE_CPU) ? TB_DEVICE_CPU
                                         : TB_DEVICE_OTHER;
}
#endif

static void test_errors(void)
{
    struct tb_backend *b = NULL;
    struct tb_err err = {0};
    setenv("TB_OPENCL_DEVICE", "zero", 1);
    CHECK(tb_backend_create("opencl", NULL, &b, &err) == TB_EINVAL && !b &&
          strstr(err.msg, "TB_OPENCL_DEVICE"));
    setenv("TB_OPENCL_DEVICE", "9:9", 1);
    CHECK(tb_backend_create("opencl", NULL, &b, &err) == TB_EBACKEND && !b &&
          strstr(err.msg, "names no device"));
    setenv("TB_OPENCL_DEVICE", "0:0", 1);
    /* a macro that breaks the source: creation fails with the build log */
    setenv("TB_OPENCL_EXTRA_BUILD_OPTIONS", "-Dfloat=tb_no_such_type", 1);
    int rc = tb_backend_create("opencl", NULL, &b, &err);
    CHECKF(rc == TB_EBACKEND && !b && strstr(err.msg, "kernel build failed") &&
               strstr(err.msg, "tb_no_such_type"),
           "broken build gave rc %d: %s", rc, err.msg);
    printf("forced build failure: %s\n", err.msg);
    unsetenv("TB_OPENCL_EXTRA_BUILD_OPTIONS");
}

int main(void)
{
    const clock_t t0 = clock();
    struct tb_err err = {0};
    struct tb_backend *ref = NULL, *b = NULL;
    /* platform 0 device 0: the device runtime_kind() asks about */
    setenv("TB_OPENCL_DEVICE", "0:0", 1);
    int rc = tb_backend_create("opencl", NULL, &b, &err);
    if (rc == TB_EUNSUPPORTED || (rc == TB_EBACKEND && strstr(err.msg, "no OpenCL platform"))) {
        printf("SKIP test_opencl: %s\n", err.msg);
        return TB_SKIP_CODE;
    }
    CHECKF(rc == TB_OK && b, "create opencl: %s", err.msg);
    CHECK(tb_backend_create("cpu-ref", NULL, &ref, &err) == TB_OK);
    if (!b || !ref)
        return tb_test_result("test_opencl");
#ifdef TB_HAVE_OPENCL
    char clname[256] = "";
    const enum tb_device_kind kind = runtime_kind(clname, sizeof clname);
    CHECKF(tb_backend_device_kind(b) == kind, "kind %s, runtime reports %s",
           tb_device_kind_name(tb_backend_device_kind(b)), tb_device_kind_name(kind));
    CHECKF(clname[0] && strstr(tb_backend_device_name(b), clname), "name '%s' lacks '%s'",
           tb_backend_device_name(b), clname);
#endif
    const char *vendor = tb_backend_device_vendor(b);
    CHECKF(vendor[0] && strstr(tb_backend_device_name(b), vendor), "vendor '%s' not in '%s'",
           vendor, tb_backend_device_name(b));
    if (strstr(tb_backend_device_name(b), "PoCL") || strstr(tb_backend_device_name(b), "pthread"))
        CHECK(tb_backend_device_kind(b) == TB_DEVICE_CPU); /* PoCL's CPU device */
    printf("opencl device: %s [%s], kind %s\n", tb_backend_device_name(b), vendor,
           tb_device_kind_name(tb_backend_device_kind(b)));
    CHECK(strcmp(tb_backend_name(b), "opencl") == 0);
    struct tb_op_evidence ev;
    CHECK(tb_backend_op_evidence(ref, &ev, &err) == TB_EUNSUPPORTED);

    /* opencl's weight types (kernels/opencl): matmul and get_rows over any
     * other listed type (q4_0, ...) must be refused */
    const unsigned wtypes = (1u << TB_TYPE_F32) | (1u << TB_TYPE_F16) | (1u << TB_TYPE_Q8_0);
    struct acc_run R = {.ref = ref, .b = b, .wtypes = wtypes};
    acc_run_all(&R);
    CHECK(R.refused > 0);
    CHECK(tb_backend_op_evidence(b, &ev, &err) == TB_OK &&
          ev.total_launches >= (uint64_t)(R.cases - R.refused));

    tb_backend_free(b);
    test_errors();
    tb_backend_free(ref);
    printf("cpu time %.1f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    return tb_test_result("test_opencl");
}
