/* A stand-in libnvidia-ml for test_energy: two GPUs whose energy counters
 * advance by 1000 mJ (GPU 0) and 2000 mJ (GPU 1) on every read, so a
 * start/stop pair measures exactly 3 J. TB_FAKE_NVML_NOT_SUPPORTED=1 makes
 * the energy query fail like a pre-Volta GPU. Test-only state below. */
#include <stdlib.h>

typedef struct fake_device *nvmlDevice_t;
struct fake_device {
    unsigned long long mj;
    unsigned long long step;
};

static struct fake_device g_dev[2] = {{5000, 1000}, {9000, 2000}};

int nvmlInit_v2(void)
{
    return 0;
}

int nvmlShutdown(void)
{
    return 0;
}

int nvmlDeviceGetCount_v2(unsigned int *n)
{
    *n = 2;
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *dev)
{
    if (i >= 2)
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *dev = &g_dev[i];
    return 0;
}

int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev, unsigned long long *mj)
{
    const char *off = getenv("TB_FAKE_NVML_NOT_SUPPORTED");
    if (off && *off == '1')
        return 3; /* NVML_ERROR_NOT_SUPPORTED */
    dev->mj += dev->step;
    *mj = dev->mj;
    return 0;
}

const char *nvmlErrorString(int code)
{
    return code == 3 ? "Not Supported" : code ? "Invalid Argument" : "Success";
}
