/* Energy meters: a fake powercap tree with a counter wrap, hand-computed
 * power-trace integrals, and the live sources reporting why they are off. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/tb_energy.h"
#include "tb_test.h"

#define TRACE_FIXTURE TB_SOURCE_DIR "/tests/data/power/trace-basic.csv"

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    CHECKF(f != NULL, "%s: %s", path, strerror(errno));
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void make_zone(const char *root, const char *zone, const char *name, const char *energy,
                      const char *max_range)
{
    char dir[512], rel[600];
    snprintf(dir, sizeof dir, "%s/%s", root, zone);
    CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
    snprintf(rel, sizeof rel, "%s/name", zone);
    write_file(root, rel, name);
    snprintf(rel, sizeof rel, "%s/energy_uj", zone);
    write_file(root, rel, energy);
    snprintf(rel, sizeof rel, "%s/max_energy_range_uj", zone);
    write_file(root, rel, max_range);
}

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (1 + fabs(b));
}

static void test_powercap_fake(void)
{
    char root[256];
    tb_test_path(root, sizeof root, "powercap", "");
    CHECK(mkdir(root, 0755) == 0);
    char ctl[300];
    snprintf(ctl, sizeof ctl, "%s/intel-rapl", root); /* the control type, not a zone */
    CHECK(mkdir(ctl, 0755) == 0);
    make_zone(root, "intel-rapl:0", "package-0\n", "999500000\n", "1000000000\n");
    make_zone(root, "intel-rapl:0:0", "core\n", "5000000\n", "1000000000\n");
    make_zone(root, "intel-rapl:1", "package-1\n", "2000000\n", "1000000000\n");
    make_zone(root, "intel-rapl-mmio:0", "package-0\n", "7\n", "1000000000\n");

    struct tb_energy_config cfg = {.source = "powercap", .powercap_root = root};
    struct tb_energy_meter *m = NULL;
    struct tb_err err = {0};
    CHECK(tb_energy_open(&cfg, &m, &err) == 0);
    CHECKF(tb_energy_disabled_reason(m) == NULL, "%s", tb_energy_disabled_reason(m));
    CHECK(!strcmp(tb_energy_name(m), "powercap"));
    CHECKF(tb_energy_start(m, &err) == 0, "%s", err.msg);
    /* package-0 wraps: (1e9 - 999.5e6) + 0.5e6 uJ = 1 J; package-1: 3 J;
     * the core sub-zone and the mmio duplicate must not be added */
    write_file(root, "intel-rapl:0/energy_uj", "500000\n");
    write_file(root, "intel-rapl:0:0/energy_uj", "105000000\n");
    write_file(root, "intel-rapl:1/energy_uj", "5000000\n");
    write_file(root, "intel-rapl-mmio:0/energy_uj", "99000000\n");
    struct tb_energy_result r;
    CHECKF(tb_energy_stop(m, &r, &err) == 0, "%s", err.msg);
    CHECKF(near(r.joules, 4.0), "powercap joules %.9f, want 4", r.joules);
    CHECKF(!strcmp(r.source, "powercap:package-0+package-1"), "source %s", r.source);
    CHECK(r.seconds >= 0);
    tb_energy_free(m);

    /* a psys zone covers the whole platform: it alone is counted */
    make_zone(root, "intel-rapl:2", "psys\n", "10000000\n", "20000000\n");
    CHECK(tb_energy_open(&cfg, &m, &err) == 0 && !tb_energy_disabled_reason(m));
    CHECK(tb_energy_start(m, &err) == 0);
    write_file(root, "intel-rapl:2/energy_uj", "2500000\n"); /* wrap: 10 + 2.5 J */
    write_file(root, "intel-rapl:1/energy_uj", "9000000\n");
    CHECK(tb_energy_stop(m, &r, &err) == 0);
    CHECKF(near(r.joules, 12.5), "psys joules %.9f, want 12.5", r.joules);
    CHECK(!strcmp(r.source, "powercap:psys"));
    tb_energy_free(m);

    /* an unreadable counter disables the source, naming the file */
    char gone[400];
    snprintf(gone, sizeof gone, "%s/intel-rapl:1/energy_uj", root);
    CHECK(unlink(gone) == 0);
    CHECK(tb_energy_open(&cfg, &m, &err) == 0);
    const char *why = tb_energy_disabled_reason(m);
    CHECKF(why && strstr(why, "intel-rapl:1/energy_uj"), "%s", why ? why : "(enabled)");
    CHECK(tb_energy_start(m, &err) == TB_EUNSUPPORTED && strstr(err.msg, "energy_uj"));
    CHECK(tb_energy_stop(m, &r, &err) == TB_EUNSUPPORTED && r.joules == 0);
    tb_energy_free(m);
}

static void test_trace_csv_forms(const char *p);

static void test_trace_fixture(void)
{
    struct tb_err err = {0};
    double j = -1;
    /* hand-computed: [100.5,101] 0.5*(15+20)/2 = 8.75; [101,102] 20;
     * [102,103] (20+10)/2 = 15 -> 43.75 J */
    CHECKF(tb_energy_trace_integrate(TRACE_FIXTURE, 100.5, 103.0, &j, &err) == 0, "%s", err.msg);
    CHECKF(near(j, 43.75), "window [100.5,103]: %.9f J, want 43.75", j);
    CHECK(tb_energy_trace_integrate(TRACE_FIXTURE, 100.0, 104.0, &j, &err) == 0);
    CHECKF(near(j, 55.0), "whole trace: %.9f J, want 55", j); /* 15 + 20 + 20 */
    CHECK(tb_energy_trace_integrate(TRACE_FIXTURE, 102.5, 103.5, &j, &err) == 0);
    CHECKF(near(j, 10.0), "inside one segment: %.9f J, want 10", j); /* (15+5)/2 */
    CHECK(tb_energy_trace_integrate(TRACE_FIXTURE, 101.25, 101.75, &j, &err) == 0);
    CHECKF(near(j, 10.0), "flat segment: %.9f J, want 10", j);
    CHECK(tb_energy_trace_integrate(TRACE_FIXTURE, 103.5, 103.5, &j, &err) == 0 && j == 0);
    /* never extrapolated */
    CHECK(tb_energy_trace_integrate(TRACE_FIXTURE, 99.0, 101.0, &j, &err) == TB_ERANGE);
    CHECK(strstr(err.msg, "outside") != NULL);
    CHECK(tb_energy_trace_integrate(TRACE_FIXTURE, 103.0, 104.5, &j, &err) == TB_ERANGE);
    CHECK(tb_energy_trace_integrate(TRACE_FIXTURE, 103.0, 102.0, &j, &err) == TB_EINVAL);

    char bad[256];
    tb_test_path(bad, sizeof bad, "trace-bad", ".csv");
    FILE *f = fopen(bad, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("timestamp_s,watts\n1.0,5\n3.0,5\n2.0,5\n", f);
        fclose(f);
    }
    CHECK(tb_energy_trace_integrate(bad, 1.0, 2.0, &j, &err) == TB_EFORMAT);
    CHECKF(strstr(err.msg, ":4:") != NULL, "%s", err.msg);
    f = fopen(bad, "w");
    if (f) {
        fputs("1.0,5\n2.0,five\n", f);
        fclose(f);
    }
    CHECK(tb_energy_trace_integrate(bad, 1.0, 2.0, &j, &err) == TB_EFORMAT);
    CHECKF(strstr(err.msg, ":2:") != NULL, "%s", err.msg);
    CHECK(tb_energy_trace_integrate("/nonexistent/trace.csv", 1, 2, &j, &err) == TB_EIO);
    test_trace_csv_forms(bad);
}

/* Writes text to path and integrates it over [100, 104]: the fixture's
 * samples in another CSV form must give its 55 J. */
static int trace_text(const char *path, const char *text, double *j, struct tb_err *err)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    *j = -1;
    return tb_energy_trace_integrate(path, 100.0, 104.0, j, err);
}

/* The trace is read through libcsv: quoted fields, CRLF line ends, a last
 * line without its newline and spaces around fields are the same samples;
 * a broken quote, a third field or a comment full of quotes and commas are
 * handled line by line, with the file and line in every error. */
static void test_trace_csv_forms(const char *p)
{
    static const char *const same[] = {
        "\"timestamp_s\",\"watts\"\n\"100.0\",\"10\"\n101.0,\"20\"\n\"102.0\",20\n104.0,0\n",
        "timestamp_s,watts\r\n100.0,10\r\n101.0,20\r\n102.0,20\r\n104.0,0\r\n",
        "timestamp_s,watts\n100.0,10\n101.0,20\n102.0,20\n104.0,0",
        "timestamp_s,watts\r\n100.0,10\r\n101.0,20\r\n102.0,20\r\n\"104.0\",\"0\"",
        "# \"quoted\", comma, and \"unterminated\n  timestamp_s , watts\n 100.0 , 10 \n"
        "\t101.0,\t20\n\n102.0,20\n# trailing comment, \"x\"\n104.0,0\n",
        "100.0,10\n101.0,20\n102.0,20\n104.0,0\n", /* no header */
    };
    struct tb_err err = {0};
    double j;
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        int rc = trace_text(p, same[i], &j, &err);
        CHECKF(rc == 0 && near(j, 55.0), "form %zu: rc %d, %.9f J (%s)", i, rc, j, err.msg);
    }
    static const struct {
        const char *text, *where, *what;
    } bad[] = {
        {"timestamp_s,watts\n100.0,10\n\"101.0,20\n104.0,0\n", ":3:", "not CSV"},
        {"timestamp_s,watts\n100.0,10\n101\"0,20\n104.0,0\n", ":3:", "not CSV"},
        {"timestamp_s,watts\n100.0,10\n101.0,20,3\n104.0,0\n", ":3:", "timestamp_s,watts"},
        {"timestamp_s,watts\n100.0,10\n101.0\n104.0,0\n", ":3:", "timestamp_s,watts"},
        {"timestamp_s,watts\r\n100.0,10\r\n101.0,20\r102.0,20\r\n104.0,0\r\n",
         ":3:", "timestamp_s,watts"},
        {"timestamp_s,watts\n100.0,10\n\"101.0\",\"\"\n104.0,0\n", ":3:", "timestamp_s,watts"},
        {"timestamp_s,watts\n100.0,10\n101.0,nan\n104.0,0\n", ":3:", "timestamp_s,watts"},
        {"timestamp_s,watts\n100.0,10\n101.0,\"-5\"\n104.0,0", ":3:", "negative power"},
        {"timestamp_s,watts\r\n100.0,10\r\n104.0,0\r\n103.0,1", ":4:", "not after"},
        {"timestamp_s,watts\n# only a header\n", "no samples", "trace"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = trace_text(p, bad[i].text, &j, &err);
        CHECKF(rc == TB_EFORMAT && strstr(err.msg, bad[i].where) && strstr(err.msg, bad[i].what) &&
                   strstr(err.msg, p),
               "bad %zu: rc %d: %s", i, rc, err.msg);
    }
}

/* The trace meter windows a live run in CLOCK_REALTIME. */
static void test_trace_meter(void)
{
    char path[256], src[300];
    tb_test_path(path, sizeof path, "trace-live", ".csv");
    double now = tb_energy_realtime_now();
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f, "timestamp_s,watts\n%.6f,5\n%.6f,5\n", now - 10, now + 30);
    fclose(f);
    snprintf(src, sizeof src, "trace:%s", path);
    struct tb_energy_config cfg = {.source = src};
    struct tb_energy_meter *m = NULL;
    struct tb_err err = {0};
    CHECK(tb_energy_open(&cfg, &m, &err) == 0 && !tb_energy_disabled_reason(m));
    CHECK(tb_energy_start(m, &err) == 0);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    struct tb_energy_result r;
    CHECKF(tb_energy_stop(m, &r, &err) == 0, "%s", err.msg);
    CHECKF(r.seconds >= 0.019 && fabs(r.joules - 5 * r.seconds) < 1e-6, "%.6f J in %.6f s",
           r.joules, r.seconds);
    CHECK(!strncmp(r.source, "trace:", 6));
    tb_energy_free(m);

    cfg.source = "trace:/nonexistent/power.csv";
    CHECK(tb_energy_open(&cfg, &m, &err) == 0);
    CHECK(tb_energy_disabled_reason(m) && strstr(tb_energy_disabled_reason(m), "nonexistent"));
    tb_energy_free(m);
}

static void test_selection(void)
{
    struct tb_energy_meter *m = NULL;
    struct tb_err err = {0};
    struct tb_energy_config cfg = {.source = "wattmeter"};
    CHECK(tb_energy_open(&cfg, &m, &err) == TB_EINVAL && m == NULL);

    cfg.source = "none";
    CHECK(tb_energy_open(&cfg, &m, &err) == 0 && tb_energy_disabled_reason(m));
    tb_energy_free(m);

    /* auto with no powercap zones and no NVML: every source gives a reason
     * (unless this PAPI has a working energy component) */
    char empty[256];
    tb_test_path(empty, sizeof empty, "powercap-empty", "");
    CHECK(mkdir(empty, 0755) == 0);
    cfg = (struct tb_energy_config){
        .source = "auto", .powercap_root = empty, .nvml_library = "libtb-no-such-nvml.so"};
    CHECK(tb_energy_open(&cfg, &m, &err) == 0);
    const char *why = tb_energy_disabled_reason(m);
    if (why) {
        printf("auto: %s\n", why);
        CHECK(!strncmp(why, "unavailable: ", 13));
        CHECK(strstr(why, "powercap: ") && strstr(why, "papi: ") && strstr(why, "nvml: "));
        CHECK(strstr(why, "no intel-rapl:N zones") != NULL);
    } else {
        CHECK(!strcmp(tb_energy_name(m), "papi"));
    }
    tb_energy_free(m);
}

/* The NVML source against a fake libnvidia-ml (tests/fake/fake_nvml.c):
 * two GPUs advancing 1 J and 2 J per read -> 3 J per start/stop. */
static void test_nvml_fake(void)
{
    struct tb_energy_config cfg = {.source = "nvml", .nvml_library = TB_FAKE_NVML};
    struct tb_energy_meter *m = NULL;
    struct tb_err err = {0};
    CHECK(tb_energy_open(&cfg, &m, &err) == 0);
    CHECKF(m && !tb_energy_disabled_reason(m), "%s", m ? tb_energy_disabled_reason(m) : "");
    if (m && !tb_energy_disabled_reason(m)) {
        struct tb_energy_result r;
        CHECKF(tb_energy_start(m, &err) == 0, "%s", err.msg);
        CHECKF(tb_energy_stop(m, &r, &err) == 0, "%s", err.msg);
        CHECKF(near(r.joules, 3.0), "nvml joules %.9f, want 3", r.joules);
        CHECKF(!strcmp(r.source, "nvml:2 GPUs"), "%s", r.source);
    }
    tb_energy_free(m);

    /* a GPU without the energy counter disables the source with NVML's words */
    setenv("TB_FAKE_NVML_NOT_SUPPORTED", "1", 1);
    CHECK(tb_energy_open(&cfg, &m, &err) == 0);
    const char *why = m ? tb_energy_disabled_reason(m) : NULL;
    CHECKF(why && strstr(why, "GPU 0") && strstr(why, "Not Supported"), "%s",
           why ? why : "(enabled)");
    tb_energy_free(m);
    unsetenv("TB_FAKE_NVML_NOT_SUPPORTED");
}

/* The real sources on this host: measuring, or off with a reason. */
static void test_live(void)
{
    static const char *const k[] = {"powercap", "papi", "nvml", "auto"};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        struct tb_energy_config cfg = {.source = k[i]};
        struct tb_energy_meter *m = NULL;
        struct tb_err err = {0};
        CHECK(tb_energy_open(&cfg, &m, &err) == 0);
        if (!m)
            continue;
        const char *why = tb_energy_disabled_reason(m);
        if (why) {
            printf("live %s: off: %s\n", k[i], why);
            CHECK(why[0] != '\0');
        } else {
            struct tb_energy_result r;
            CHECKF(tb_energy_start(m, &err) == 0, "%s", err.msg);
            volatile double x = 0;
            for (int j = 0; j < 20000000; j++)
                x = x + j;
            CHECKF(tb_energy_stop(m, &r, &err) == 0, "%s", err.msg);
            printf("live %s: %.6f J in %.3f s (%s)\n", k[i], r.joules, r.seconds, r.source);
            CHECK(r.joules >= 0 && r.source[0]);
        }
        tb_energy_free(m);
    }
}

int main(void)
{
    test_powercap_fake();
    test_trace_fixture();
    test_trace_meter();
    test_selection();
    test_nvml_fake();
    test_live();
    return tb_test_result("test_energy");
}
