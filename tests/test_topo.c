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

int main(void)
{
    test_synthetic();
    test_xml();
    test_host();
    return tb_test_result("test_topo");
}
