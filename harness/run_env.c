/* The environment attached to every record: host, PAPI and hwloc versions,
 * topology, and what every backend finds here. */
#include <hwloc.h>
#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run_internal.h"
#include "harness/tb_counters.h"
#include "harness/tb_watchdog.h"

json_t *run_build_env(struct run_ctx *run, struct tb_err *err)
{
    json_t *env = tb_env_capture_topo(run->topo, err);
    if (!env)
        return NULL;
    char v[64];
    struct tb_err pe = {0};
    if (tb_papi_init(&pe) == TB_OK) {
        snprintf(v, sizeof v, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION),
                 PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION),
                 PAPI_VERSION_INCREMENT(PAPI_VERSION));
        tb_env_set_component(env, "papi", v, NULL, NULL);
    } else {
        tb_env_set_component(env, "papi", NULL, pe.msg, NULL);
    }
    const unsigned hv = hwloc_get_api_version();
    snprintf(v, sizeof v, "%u.%u.%u", hv >> 16, (hv >> 8) & 0xff, hv & 0xff);
    tb_env_set_component(env, "hwloc", v, NULL, NULL);
    char topo[512];
    tb_topo_summary_format(&run->topo_sum, topo, sizeof topo);
    json_object_set_new(env, "topology",
                        json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I}", "summary", topo,
                                  "packages", run->topo_sum.packages, "cores", run->topo_sum.cores,
                                  "pus", run->topo_sum.pus, "numa_nodes", run->topo_sum.numa_nodes,
                                  "l1d_bytes", (json_int_t)run->topo_sum.l1d_bytes, "l2_bytes",
                                  (json_int_t)run->topo_sum.l2_bytes, "l3_bytes",
                                  (json_int_t)run->topo_sum.l3_bytes, "memory_bytes",
                                  (json_int_t)run->topo_sum.total_memory));
    for (const char *const *n = tb_backend_names(); *n; n++) {
        struct tb_backend *b = NULL;
        struct tb_err be = {0};
        struct tb_backend_config cfg;
        tb_backend_config_default(&cfg);
        cfg.n_threads = 1;
        if (tb_backend_create(*n, &cfg, &b, &be) == TB_OK) {
            tb_env_add_device(env, *n, tb_backend_device_name(b), NULL);
            tb_backend_free(b);
        } else {
            char d[600];
            snprintf(d, sizeof d, "unavailable: %s", be.msg);
            tb_env_add_device(env, *n, d, NULL);
        }
    }
    return env;
}

/* In the probing child: the environment (or why not) as one JSON text. */
static int env_child(void *ctx, int fd)
{
    struct tb_err e = {0};
    json_t *env = run_build_env(ctx, &e);
    json_t *msg = json_pack("{s:o, s:s}", "environment", env ? env : json_null(), "error", e.msg);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    const int bad = !text || tb_write_all(fd, text, strlen(text), "result pipe", NULL);
    free(text);
    json_decref(msg);
    return bad ? 1 : 0;
}

/* run_build_env in a short-lived child: probing the backends loads device
 * runtimes (pocl keeps worker threads after its context is gone), and the
 * watchdog's parent must hold no threads when it forks. A probe that hangs
 * or dies leaves the environment without the device list, saying why. */
json_t *run_build_env_isolated(struct run_ctx *run, struct tb_err *err)
{
    struct tb_watchdog_result wr;
    struct tb_err we = {0};
    const int wrc = tb_watchdog_run(env_child, run, run->o->timeout_s, &wr, &we);
    if (wrc && wrc != TB_ENOMEM) { /* not started */
        *err = we;
        return NULL;
    }
    const int exited_ok = !wrc && wr.outcome == TB_WATCHDOG_EXITED && wr.exit_code == 0;
    json_t *msg = exited_ok ? json_loadb(wr.data ? wr.data : "", wr.n, 0, NULL) : NULL;
    tb_watchdog_result_free(&wr);
    json_t *env = json_incref(json_object_get(msg, "environment"));
    if (msg && !json_is_object(env)) {
        tb_err_set(err, TB_EIO, "%s", json_string_value(json_object_get(msg, "error")));
        json_decref(msg);
        json_decref(env);
        return NULL;
    }
    json_decref(msg);
    if (env)
        return env;
    /* the probe itself failed: the run goes on without the device list */
    env = tb_env_capture_topo(run->topo, err);
    if (env)
        json_object_set_new(env, "devices_unavailable",
                            json_string(wr.outcome == TB_WATCHDOG_TIMEOUT
                                            ? "probing the backends timed out"
                                            : "probing the backends crashed"));
    return env;
}
