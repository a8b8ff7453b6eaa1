/* tierbench bench end to end on a tiny synthetic model: the table and the
 * JSON rows (pp/tg tok/s with spread, STREAM before/after, peak RSS) are
 * there and consistent; bad input is a usage error. */
#include "tb_test.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int run(const char *cmd)
{
    const int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
    const char *bin = getenv("TB_BIN");
    if (!bin || !*bin) {
        fprintf(stderr, "TB_BIN is not set (run through ctest)\n");
        return TB_SKIP_CODE;
    }
    char dir[512], cmd[2048], json[700];
    tb_test_path(dir, sizeof dir, "bench-cli", "");
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(json, sizeof json, "%s/rows.jsonl", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' bench --model synth:mcu-260k:q8_0 -p 16 -n 8 -r 3 -t 1 --cache '%s' "
             "--json '%s' > '%s/out.txt'",
             bin, dir, json, dir);
    CHECK(run(cmd) == 0);
    json_error_t je;
    json_t *row = json_load_file(json, JSON_DISABLE_EOF_CHECK, &je);
    CHECKF(row != NULL, "%s", je.text);
    if (row) {
        const double pp = json_number_value(json_object_get(row, "pp_tps_median"));
        const double tg = json_number_value(json_object_get(row, "tg_tps_median"));
        CHECK(pp > 0 && tg > 0);
        CHECK(json_number_value(json_object_get(row, "pp_tps_min")) <= pp);
        CHECK(json_number_value(json_object_get(row, "pp_tps_max")) >= pp);
        CHECK(json_number_value(json_object_get(row, "stream_triad_gbs_before")) > 0);
        CHECK(json_number_value(json_object_get(row, "stream_triad_gbs_after")) > 0);
        CHECK(json_number_value(json_object_get(row, "tg_weight_gbytes_per_s")) > 0);
        CHECK(json_integer_value(json_object_get(row, "peak_rss_kib")) > 0);
        CHECK(json_integer_value(json_object_get(row, "reps")) == 3);
        CHECK(!strcmp(json_string_value(json_object_get(row, "type")), "q8_0"));
        CHECK(!strcmp(json_string_value(json_object_get(row, "kv_type")), "f32"));
        CHECK(json_is_true(json_object_get(row, "repack")));
        json_decref(row);
    }
    /* f16 KV cache, file-layout weights: recorded as such */
    char json2[800];
    snprintf(json2, sizeof json2, "%s/rows-f16.jsonl", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' bench --model synth:mcu-260k:q8_0 -p 8 -n 4 -r 1 -t 1 --no-stream --kv f16 "
             "--no-repack --cache '%s' --json '%s' > /dev/null",
             bin, dir, json2);
    CHECK(run(cmd) == 0);
    row = json_load_file(json2, JSON_DISABLE_EOF_CHECK, &je);
    CHECKF(row != NULL, "%s", je.text);
    if (row) {
        CHECK(!strcmp(json_string_value(json_object_get(row, "kv_type")), "f16"));
        CHECK(json_is_false(json_object_get(row, "repack")));
        CHECK(json_number_value(json_object_get(row, "tg_tps_median")) > 0);
        json_decref(row);
    }
    snprintf(cmd, sizeof cmd, "grep -q '| pp16 ' '%s/out.txt' && grep -q '| tg8 ' '%s/out.txt'",
             dir, dir);
    CHECK(run(cmd) == 0);
    /* usage errors: exit 2 */
    snprintf(cmd, sizeof cmd, "'%s' bench -p 16 2>/dev/null", bin);
    CHECK(run(cmd) == 2);
    snprintf(cmd, sizeof cmd, "'%s' bench --model synth:mcu-260k:q8_0 -r 0 2>/dev/null", bin);
    CHECK(run(cmd) == 2);
    snprintf(cmd, sizeof cmd, "'%s' bench --model synth:nope:q8_0 --cache '%s' 2>/dev/null", bin,
             dir);
    CHECK(run(cmd) == 2);
    snprintf(cmd, sizeof cmd, "'%s' bench --model synth:mcu-260k:q8_0 --kv q8_0 2>/dev/null", bin);
    CHECK(run(cmd) == 2);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(run(cmd) == 0);
    return tb_test_result("test_bench_cli");
}
