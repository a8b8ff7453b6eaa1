/* tb_platform.h memory and CPU facts on POSIX (Linux: /proc/cpuinfo). */
#include "kernels/platform/tb_platform.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

size_t tb_page_size(void)
{
    const long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 0;
}

uint64_t tb_phys_mem_bytes(void)
{
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

void tb_pages_drop(const void *p, size_t n)
{
    const uintptr_t page = (uintptr_t)tb_page_size();
    if (!page)
        return;
    const uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1);
    const uintptr_t hi = ((uintptr_t)p + n) & ~(page - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

int tb_cpu_count(void)
{
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (online < 1 << 20 ? (int)online : 1 << 20) : 1;
}

int tb_cpu_model(char *buf, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[256];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(buf, n, "%s", colon + (colon[1] ? 2 : 1));
            buf[strcspn(buf, "\n")] = '\0';
            found = 1;
        }
    }
    fclose(f);
    return found;
}
