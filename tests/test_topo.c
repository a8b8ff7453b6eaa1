/* Topology summaries and binding plans on synthetic / XML topologies we do
 * not have, plus binding the calling thread on the live host. */
#include <string.h>

#include "harness/tb_topo.h"
#include "tb_test.h"

static void check_plan(struct tb_topo *t, int n, enum tb_bind_policy pol, const char *cpuset,
                       const int *want, int want_n, const char *what)
{
    struct tb_bind_plan p;
    struct tb_err err = {0};
    int rc = tb_topo_plan(t, n, pol, cpuset, &p, &err);
    CHECKF(rc == 0, "%s: %s", what, err.msg);
    if (rc)
        return;
    CHECKF(p.actual == want_n, "%s: %d threads, want %d", what, p.actual, want_n);
    for (int i = 0; i < want_n && i < p.actual; i++)
        CHECKF(p.pu_os[i] == want[i], "%s: thread %d on PU %d, want %d", what, i, p.pu_os[i],
               want[i]);
    tb_bind_plan_free(&p);
}

static void test_synthetic(void)
{
    struct tb_topo *t = NULL;
    struct tb_err err = {0};
    int rc = tb_topo_open_synthetic(
        "pack:2 [numa(memory=8GB)] l3:1(size=32MB) core:4 l2:1(size=1MB) l1d:1(size=48KB) pu:2", &t,
        &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc)
        return;
    struct tb_topo_summary s;
    tb_topo_summarize(t, &s);
    CHECK(s.packages == 2 && s.cores == 8 && s.pus == 16 && s.numa_nodes == 2);
    CHECK(s.l1d_bytes == 48000 && s.l1d_count == 8);
    CHECK(s.l2_bytes == 1000000 && s.l2_count == 8);
    CHECK(s.l3_bytes == 32000000 && s.l3_count == 2);
    CHECK(s.total_memory == 16000000000ull);
    CHECK(!s.is_this_system);
    char line[256];
    CHECK(tb_topo_summary_format(&s, line, sizeof line) > 0 && strstr(line, "16 PU(s)"));

    /* compact fills SMT siblings and neighbouring cores; spread goes across
     * packages first, then cores */
    check_plan(t, 4, TB_BIND_COMPACT, NULL, (const int[]){0, 1, 2, 3}, 4, "compact 4");
    check_plan(t, 4, TB_BIND_SPREAD, NULL, (const int[]){0, 4, 8, 12}, 4, "spread 4");
    check_plan(t, 2, TB_BIND_SPREAD, NULL, (const int[]){0, 8}, 2, "spread 2");
    check_plan(t, 8, TB_BIND_SPREAD, NULL, (const int[]){0, 2, 4, 6, 8, 10, 12, 14}, 8, "spread 8");
    check_plan(t, 2, TB_BIND_COMPACT, "8-15", (const int[]){8, 9}, 2, "compact 2 in 8-15");
    check_plan(t, 2, TB_BIND_SPREAD, "8-15", (const int[]){8, 12}, 2, "spread 2 in 8-15");
    check_plan(t, 3, TB_BIND_NONE, NULL, (const int[]){-1, -1, -1}, 3, "none 3");

    /* more threads than PUs: clamped and recorded */
    struct tb_bind_plan p;
    CHECK(tb_topo_plan(t, 20, TB_BIND_COMPACT, NULL, &p, &err) == 0);
    CHECK(p.requested == 20 && p.actual == 16 && p.clamped);
    CHECK(p.pu_os[15] == 15);
    CHECK(tb_bind_plan_format(&p, line, sizeof line) > 0 && strstr(line, "clamped from 20"));
    tb_bind_plan_free(&p);
    CHECK(tb_topo_plan(t, 4, TB_BIND_SPREAD, "4-5", &p, &err) == 0);
    CHECK(p.requested == 4 && p.actual == 2 && p.clamped);
    tb_bind_plan_free(&p);
    CHECK(tb_topo_plan(t, 0, TB_BIND_COMPACT, NULL, &p, &err) == 0); /* 0 = all */
    CHECK(p.actual == 16 && !p.clamped);
    tb_bind_plan_free(&p);

    /* cpusets outside the machine or malformed */
    CHECK(tb_topo_plan(t, 2, TB_BIND_COMPACT, "64-70", &p, &err) == TB_EINVAL);
    CHECK(strstr(err.msg, "64-70") != NULL);
    CHECK(tb_topo_plan(t, 2, TB_BIND_COMPACT, "0-3,x", &p, &err) == TB_EINVAL);
    CHECK(tb_topo_cpuset_check("0-3,8", &err) == 0);
    CHECK(tb_topo_cpuset_check("three", &err) == TB_EINVAL);

    /* a synthetic topology is not this host: binding refuses */
    CHECK(tb_topo_bind_current_thread(t, 0, NULL, &err) == TB_EUNSUPPORTED);
    tb_topo_free(t);

    CHECK(tb_topo_open_synthetic("pack:2 banana:3", &t, &err) == TB_EINVAL);
}

/* SMT siblings numbered apart by the OS (0 and 4 share a core), as on many
 * x86 hosts: compact follows the tree, not OS numbers. */
static void test_xml(void)
{
    struct tb_topo *t = NULL;
    struct tb_err err = {0};
    int rc = tb_topo_open_xml(TB_SOURCE_DIR "/tests/data/hwloc/smt-interleaved.xml", &t, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc)
        return;
    struct tb_topo_summary s;
    tb_topo_summarize(t, &s);
    CHECK(s.packages == 1 && s.cores == 4 && s.pus == 8 && s.numa_nodes == 1);
    CHECK(s.l2_bytes == 512000 && s.l3_bytes == 16000000);
    check_plan(t, 4, TB_BIND_COMPACT, NULL, (const int[]){0, 4, 1, 5}, 4, "xml compact 4");
    check_plan(t, 4, TB_BIND_SPREAD, NULL, (const int[]){0, 1, 2, 3}, 4, "xml spread 4");
    tb_topo_free(t);
    CHECK(tb_topo_open_xml("/nonexistent/topo.xml", &t, &err) < 0);
}

static void test_host(void)
{
    struct tb_topo *t = NULL;
    struct tb_err err = {0};
    int rc = tb_topo_open_host(&t, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc)
        return;
    struct tb_topo_summary s;
    tb_topo_summarize(t, &s);
    char line[256];
    tb_topo_summary_format(&s, line, sizeof line);
    printf("host: %s\n", line);
    CHECK(s.pus >= 1 && s.cores >= 1 && s.cores <= s.pus && s.total_memory > 0);
    CHECK(s.is_this_system);

    struct tb_bind_plan p;
    CHECK(tb_topo_plan(t, s.pus + 1, TB_BIND_COMPACT, NULL, &p, &err) == 0);
    CHECK(p.clamped && p.actual <= s.pus);
    tb_bind_plan_free(&p);

    /* bind to the first allowed PU and observe it (the container may not
     * allow PU 0, so take the plan's first PU) */
    CHECK(tb_topo_plan(t, 1, TB_BIND_COMPACT, NULL, &p, &err) == 0);
    int target = p.actual ? p.pu_os[0] : 0;
    tb_bind_plan_free(&p);
    int observed = -1;
    rc = tb_topo_bind_current_thread(t, target, &observed, &err);
    CHECKF(rc == 0, "%s", err.msg);
    CHECKF(observed == target, "bound to PU %d, last location %d", target, observed);
    if (s.pus > 1) {
        CHECK(tb_topo_plan(t, 2, TB_BIND_COMPACT, NULL, &p, &err) == 0);
        int other = p.pu_os[1];
        tb_bind_plan_free(&p);
        CHECK(tb_topo_bind_current_thread(t, other, &observed, &err) == 0);
        CHECKF(observed == other, "bound to PU %d, last location %d", other, observed);
    }
    CHECK(tb_topo_bind_current_thread(t, 4096, &observed, &err) == TB_EINVAL);
    tb_topo_free(t);
}

/* The topology hash of a synthetic description or an XML file ("" on error). */
static void topo_hash_of(const char *src, int xml, char out[TB_HASH_STR_MAX])
{
    struct tb_topo *t = NULL;
    struct tb_err err = {0};
    int rc = xml ? tb_topo_open_xml(src, &t, &err) : tb_topo_open_synthetic(src, &t, &err);
    out[0] = '\0';
    CHECKF(rc == 0, "%s: %s", src, err.msg);
    if (rc)
        return;
    rc = tb_topo_hash(t, out, &err);
    CHECKF(rc == 0, "%s: %s", src, err.msg);
    tb_topo_free(t);
}

static int is_sha256(const char *h)
{
    if (strlen(h) != 71 || strncmp(h, "sha256:", 7))
        return 0;
    for (int i = 7; i < 71; i++)
        if (!strchr("0123456789abcdef", h[i]))
            return 0;
    return 1;
}

/* Machine identity: the same topology hashes the same however often it is
 * loaded and whichever way (synthetic or its XML export); any change of
 * shape, numbering, cache, memory or CPU model changes the hash. */
static void test_identity(void)
{
    static const char base[] =
        "pack:2 [numa(memory=8GB)] l3:1(size=32MB) core:4 l2:1(size=1MB) l1d:1(size=48KB) pu:2";
    static const char *const variants[] = {
        "pack:2 [numa(memory=8GB)] l3:1(size=32MB) core:4 l2:1(size=1MB) l1d:1(size=48KB) pu:1",
        "pack:2 [numa(memory=8GB)] l3:1(size=32MB) core:4 l2:1(size=2MB) l1d:1(size=48KB) pu:2",
        "pack:2 [numa(memory=16GB)] l3:1(size=32MB) core:4 l2:1(size=1MB) l1d:1(size=48KB) pu:2",
        "pack:1 [numa(memory=16GB)] l3:1(size=32MB) core:8 l2:1(size=1MB) l1d:1(size=48KB) pu:2",
        "pack:2 [numa(memory=8GB)] l3:2(size=16MB) core:2 l2:1(size=1MB) l1d:1(size=48KB) pu:2",
        "pack:2 [numa(memory=8GB)] l3:1(size=32MB) core:4 l2:1(size=1MB) l1d:1(size=48KB) "
        "pu:2(indexes=0,8,1,9,2,10,3,11,4,12,5,13,6,14,7,15)",
    };
    enum { NV = sizeof variants / sizeof *variants };
    char h1[TB_HASH_STR_MAX], h2[TB_HASH_STR_MAX], hv[NV][TB_HASH_STR_MAX];
    topo_hash_of(base, 0, h1);
    topo_hash_of(base, 0, h2);
    CHECKF(is_sha256(h1), "'%s'", h1);
    CHECKF(!strcmp(h1, h2), "two loads: %s vs %s", h1, h2);
    for (int i = 0; i < NV; i++) {
        topo_hash_of(variants[i], 0, hv[i]);
        CHECKF(is_sha256(hv[i]) && strcmp(hv[i], h1), "variant %d hashes as the base: %s", i,
               hv[i]);
        for (int j = 0; j < i; j++)
            CHECKF(strcmp(hv[i], hv[j]), "variants %d and %d hash the same", i, j);
    }

    /* an XML export hashes as the synthetic topology it was exported from;
     * adding only a CPU model changes the hash */
    char hx[TB_HASH_STR_MAX], hs[TB_HASH_STR_MAX], hm[TB_HASH_STR_MAX], hm2[TB_HASH_STR_MAX];
    topo_hash_of(TB_SOURCE_DIR "/tests/data/hwloc/smt-interleaved.xml", 1, hx);
    topo_hash_of("pack:1 [numa(memory=16GB)] l3:1(size=16MB) core:4 l2:1(size=512KB) "
                 "l1d:1(size=32KB) pu:2(indexes=0,4,1,5,2,6,3,7)",
                 0, hs);
    CHECKF(is_sha256(hx) && !strcmp(hx, hs), "xml %s vs synthetic %s", hx, hs);
    topo_hash_of(TB_SOURCE_DIR "/tests/data/hwloc/cpumodel.xml", 1, hm);
    topo_hash_of(TB_SOURCE_DIR "/tests/data/hwloc/cpumodel.xml", 1, hm2);
    CHECKF(is_sha256(hm) && strcmp(hm, hx) && !strcmp(hm, hm2), "cpumodel.xml %s", hm);

    /* the CPU model is hwloc's CPUModel info (trimmed); a topology without
     * one says why */
    struct tb_topo *t = NULL;
    struct tb_err err = {0};
    char model[128];
    CHECK(tb_topo_open_xml(TB_SOURCE_DIR "/tests/data/hwloc/cpumodel.xml", &t, &err) == 0);
    if (t) {
        CHECK(tb_topo_cpu_model(t, model, sizeof model, &err) == TB_OK);
        CHECKF(!strcmp(model, "Test CPU 9000 @ 2.00GHz"), "'%s'", model);
        CHECK(tb_topo_cpu_model(t, model, 5, &err) == TB_OK && !strcmp(model, "Test"));
        tb_topo_free(t);
    }
    CHECK(tb_topo_open_synthetic(base, &t, &err) == 0);
    if (t) {
        CHECK(tb_topo_cpu_model(t, model, sizeof model, &err) == TB_EUNSUPPORTED);
        CHECKF(strstr(err.msg, "CPUModel") && strstr(err.msg, "synthetic"), "%s", err.msg);
        tb_topo_free(t);
    }

    /* the live host: stable across two loads */
    struct tb_topo *a = NULL, *b = NULL;
    CHECK(tb_topo_open_host(&a, &err) == 0 && tb_topo_open_host(&b, &err) == 0);
    if (a && b) {
        CHECK(tb_topo_hash(a, h1, &err) == 0 && tb_topo_hash(b, h2, &err) == 0);
        CHECKF(is_sha256(h1) && !strcmp(h1, h2), "host: %s vs %s", h1, h2);
        int mrc = tb_topo_cpu_model(a, model, sizeof model, &err);
        printf("host topology %s, CPU model %s\n", h1, mrc ? err.msg : model);
    }
    tb_topo_free(a);
    tb_topo_free(b);
}

int main(void)
{
    test_synthetic();
    test_xml();
    test_host();
    test_identity();
    return tb_test_result("test_topo");
}
