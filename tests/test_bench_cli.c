/* tierbench bench, as a llama-bench user drives it, on a tiny synthetic
 * model (mcu-260k):
 *  - the list/range parser (16,32  first-last  first-last+step
 *    first-last*mult) expands as llama-bench's and refuses bad input;
 *  - -o json is one valid JSON array (jansson), -o jsonl one object per
 *    line, -o csv parses with libcsv, -o sql runs in SQLite (CREATE TABLE +
 *    INSERTs), -o md is a table with size, params, t/s (mean ± sd), median;
 *  - -pg and -d produce their rows; mean and sd are those of the samples;
 *  - --json FILE is one array, --jsonl FILE lines; -t defaults to hwloc's
 *    physical cores; --no-stream says "unavailable: ..." (never nan);
 *    --progress works (no "needs a value"); bad input is exit 2.
 * Nothing here compares two timed figures. */
#include "tb_test.h"

#include <csv.h>
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness/cli/cli_bench.h"
#include "harness/tb_topo.h"

static const char *g_bin, *g_dir;

static int run(const char *cmd)
{
    const int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs `tierbench bench -m synth:mcu-260k:q8_0 --cache DIR ARGS`, stdout to
 * DIR/NAME, stderr to DIR/NAME.err; returns the exit code. */
static int bench(const char *args, const char *name)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' bench -m synth:mcu-260k:q8_0 --cache '%s' %s > '%s/%s' 2> '%s/%s.err'", g_bin,
             g_dir, args, g_dir, name, g_dir, name);
    return run(cmd);
}

static char *slurp(const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* "nan" as a word (nan, -nan, nan%) anywhere in text. */
static int has_nan(const char *text)
{
    for (const char *p = text; (p = strstr(p, "nan")); p++)
        if ((p == text || !isalpha((unsigned char)p[-1])) && !isalpha((unsigned char)p[3]))
            return 1;
    return 0;
}

/* ---- the list parser */

static int expands(const char *s, int lo, int hi, const int *want, int n_want)
{
    int v[TB_CBENCH_LIST_MAX], n = 0;
    struct tb_err err = {0};
    if (tb_cbench_parse_list("-p", s, lo, hi, v, TB_CBENCH_LIST_MAX, &n, &err)) {
        fprintf(stderr, "'%s': %s\n", s, err.msg);
        return 0;
    }
    if (n != n_want)
        return 0;
    for (int i = 0; i < n; i++)
        if (v[i] != want[i])
            return 0;
    return 1;
}

static int refused(const char *s, int lo, int hi)
{
    int v[TB_CBENCH_LIST_MAX], n = 0;
    struct tb_err err = {0};
    const int rc = tb_cbench_parse_list("-p", s, lo, hi, v, TB_CBENCH_LIST_MAX, &n, &err);
    return rc == TB_EINVAL && err.msg[0] && strstr(err.msg, "-p");
}

static void test_parser(void)
{
    CHECK(expands("16", 0, 1 << 20, (int[]){16}, 1));
    CHECK(expands("16,32", 0, 1 << 20, (int[]){16, 32}, 2));
    CHECK(expands("1-4", 0, 1 << 20, (int[]){1, 2, 3, 4}, 4));
    CHECK(expands("8-32+8", 0, 1 << 20, (int[]){8, 16, 24, 32}, 4));
    CHECK(expands("8-30+8", 0, 1 << 20, (int[]){8, 16, 24}, 3));
    CHECK(expands("16-128*2", 0, 1 << 20, (int[]){16, 32, 64, 128}, 4));
    CHECK(expands("1-5*2", 0, 1 << 20, (int[]){1, 2, 4}, 3));
    CHECK(expands("4,1-3,64-256*4", 0, 1 << 20, (int[]){4, 1, 2, 3, 64, 256}, 6));
    CHECK(expands("0", 0, 1 << 20, (int[]){0}, 1));
    CHECK(expands("7-7", 0, 1 << 20, (int[]){7}, 1));
    /* a repeated option appends */
    int v[TB_CBENCH_LIST_MAX], n = 0;
    struct tb_err err = {0};
    CHECK(tb_cbench_parse_list("-t", "1,2", 1, 1024, v, TB_CBENCH_LIST_MAX, &n, &err) == 0);
    CHECK(tb_cbench_parse_list("-t", "4-8*2", 1, 1024, v, TB_CBENCH_LIST_MAX, &n, &err) == 0);
    CHECK(n == 4 && v[0] == 1 && v[1] == 2 && v[2] == 4 && v[3] == 8);
    const char *bad[] = {"",     ",",    "16,",     ",16",   "a",         "16a", "+16",
                         "-3",   "8-4",  "1-8*1",   "1-8+0", "0-8*2",     "1-",  "1-8+",
                         "1-8*", "1--8", "1-8+2+2", "2000",  "1-1000000", " 16"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(refused(bad[i], 0, 1024), "'%s' should be refused", bad[i]);
    CHECK(refused("0", 1, 1024)); /* -t 0 */
    CHECK(tb_cbench_fmt_from_name("md") == TB_CBENCH_MD);
    CHECK(tb_cbench_fmt_from_name("jsonl") == TB_CBENCH_JSONL);
    CHECK(tb_cbench_fmt_from_name("sql") == TB_CBENCH_SQL);
    CHECK(tb_cbench_fmt_from_name("xml") == -1);
}

/* ---- rows */

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A finished row: figures present and consistent with its own samples. */
static void check_row(json_t *r, int reps)
{
    const char *test = str(r, "test");
    json_t *ts = json_object_get(r, "samples_ts"), *ns = json_object_get(r, "samples_ns");
    CHECKF(json_array_size(ts) == (size_t)reps && json_array_size(ns) == (size_t)reps,
           "%s: %d samples", test, reps);
    double mean = 0, sq = 0;
    for (size_t i = 0; i < json_array_size(ts); i++)
        mean += json_number_value(json_array_get(ts, i)) / reps;
    for (size_t i = 0; i < json_array_size(ts); i++) {
        const double d = json_number_value(json_array_get(ts, i)) - mean;
        sq += d * d;
    }
    const double sd = reps > 1 ? sqrt(sq / (reps - 1)) : 0;
    CHECKF(num(r, "avg_ts") > 0 && fabs(num(r, "avg_ts") - mean) <= 1e-9 * mean,
           "%s: avg_ts %g vs mean of samples %g", test, num(r, "avg_ts"), mean);
    CHECKF(fabs(num(r, "stddev_ts") - sd) <= 1e-6 * mean, "%s: stddev_ts %g vs %g", test,
           num(r, "stddev_ts"), sd);
    CHECK(num(r, "median_ts") >= num(r, "min_ts") && num(r, "median_ts") <= num(r, "max_ts"));
    CHECK(num(r, "avg_ns") > 0 && num(r, "stddev_ns") >= 0);
    CHECK(num(r, "model_size") > 0 && num(r, "model_n_params") > 0);
    CHECK(num(r, "model_n_params") > 1e5 && num(r, "model_n_params") < 1e6); /* 260k */
    CHECK(!strcmp(str(r, "weight_type"), "q8_0") &&
          !strcmp(str(r, "model_type"), "synth:mcu-260k"));
    CHECK(json_integer_value(json_object_get(r, "reps")) == reps);
    CHECK(num(r, "peak_rss_kib") > 0);
}

static json_t *find_test(json_t *rows, const char *test)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) if (!strcmp(str(r, "test"), test)) return r;
    return NULL;
}

/* -o json with lists, -pg and -d: one array, a row per test. */
static void test_json_rows(void)
{
    CHECK(bench("-o json -p 8,16 -n 4 -pg 8,4 -d 0,16 -r 2 -t 1", "rows.json") == 0);
    char path[700];
    snprintf(path, sizeof path, "%s/rows.json", g_dir);
    json_error_t je;
    json_t *rows = json_load_file(path, 0, &je); /* the whole stdout: one value */
    CHECKF(json_is_array(rows), "%s: %s", path, je.text);
    if (!rows)
        return;
    CHECKF(json_array_size(rows) == 8, "%zu rows", json_array_size(rows));
    const char *want[] = {"pp8",       "pp16",       "tg4",       "pp8+tg4",
                          "pp8 @ d16", "pp16 @ d16", "tg4 @ d16", "pp8+tg4 @ d16"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *r = find_test(rows, want[i]);
        CHECKF(r != NULL, "no row %s", want[i]);
        if (!r)
            continue;
        check_row(r, 2);
        CHECK(json_integer_value(json_object_get(r, "n_depth")) ==
              (strstr(want[i], "d16") ? 16 : 0));
        CHECK(json_integer_value(json_object_get(r, "n_threads")) == 1);
        const int tg_only = want[i][0] == 't';
        CHECK(num(r, "stream_triad_gbs") > 0);
        CHECKF(tg_only ? num(r, "stream_share") > 0
                       : json_is_null(json_object_get(r, "stream_share")),
               "%s: stream_share", want[i]);
        CHECK(json_is_null(json_object_get(r, "stream_unavailable")));
    }
    json_t *pg = find_test(rows, "pp8+tg4");
    CHECK(pg && json_integer_value(json_object_get(pg, "n_prompt")) == 8 &&
          json_integer_value(json_object_get(pg, "n_gen")) == 4);
    json_decref(rows);
}

/* ---- csv through libcsv */

struct csv_table {
    int rows, cols, bad_rows, col;
    int test_col;
    char tests[16][64];
    char header[64][64];
};

static void csv_field(void *s, size_t len, void *data)
{
    struct csv_table *t = data;
    char cell[64];
    snprintf(cell, sizeof cell, "%.*s", (int)(len < 63 ? len : 63), s ? (char *)s : "");
    if (t->rows == 0 && t->col < 64)
        snprintf(t->header[t->col], sizeof t->header[0], "%s", cell);
    if (t->rows == 0 && !strcmp(cell, "test"))
        t->test_col = t->col;
    if (t->rows > 0 && t->rows <= 16 && t->col == t->test_col)
        snprintf(t->tests[t->rows - 1], sizeof t->tests[0], "%s", cell);
    t->col++;
}

static void csv_row(int c, void *data)
{
    (void)c;
    struct csv_table *t = data;
    if (t->rows == 0)
        t->cols = t->col;
    else if (t->col != t->cols)
        t->bad_rows++;
    t->rows++;
    t->col = 0;
}

static void test_csv(void)
{
    CHECK(bench("-o csv -p 8 -n 4 -d 0,8 -r 2 -t 1 --no-stream", "rows.csv") == 0);
    char *text = slurp("rows.csv");
    CHECK(text != NULL);
    if (!text)
        return;
    struct csv_table t = {.test_col = -1};
    struct csv_parser p;
    CHECK(csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) == 0);
    const size_t n = strlen(text);
    CHECK(csv_parse(&p, text, n, csv_field, csv_row, &t) == n);
    CHECK(csv_fini(&p, csv_field, csv_row, &t) == 0);
    csv_free(&p);
    CHECKF(t.rows == 5 && t.bad_rows == 0, "%d rows, %d ragged", t.rows, t.bad_rows);
    CHECK(t.test_col >= 0 && !strcmp(t.tests[0], "pp8") && !strcmp(t.tests[3], "tg4 @ d8"));
    int seen = 0;
    for (int i = 0; i < t.cols && i < 64; i++)
        seen += !strcmp(t.header[i], "avg_ts") + !strcmp(t.header[i], "stddev_ts") +
                !strcmp(t.header[i], "model_size") + !strcmp(t.header[i], "model_n_params") +
                !strcmp(t.header[i], "n_depth");
    CHECK(seen == 5);
    CHECK(!has_nan(text));
    free(text);
}

/* ---- sql into SQLite */

static int count_cb(void *data, int n, char **v, char **names)
{
    (void)n;
    (void)names;
    *(int *)data = v[0] ? atoi(v[0]) : -1;
    return 0;
}

static void test_sql(void)
{
    CHECK(bench("-o sql -p 8 -n 4 -pg 4,2 -r 2 -t 1 --no-stream", "rows.sql") == 0);
    char *text = slurp("rows.sql");
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK(strstr(text, "CREATE TABLE IF NOT EXISTS tierbench_bench (") != NULL);
    CHECK(strstr(text, "INSERT INTO tierbench_bench (") != NULL);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    char *msg = NULL;
    CHECKF(sqlite3_exec(db, text, NULL, NULL, &msg) == SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_free(msg);
    int rows = -1, nulls = -1, pg = -1;
    sqlite3_exec(db, "SELECT count(*) FROM tierbench_bench WHERE avg_ts > 0", count_cb, &rows,
                 NULL);
    sqlite3_exec(db,
                 "SELECT count(*) FROM tierbench_bench WHERE stream_triad_gbs IS NULL AND "
                 "stream_unavailable LIKE '%no-stream%'",
                 count_cb, &nulls, NULL);
    sqlite3_exec(db, "SELECT n_prompt + n_gen FROM tierbench_bench WHERE test = 'pp4+tg2'",
                 count_cb, &pg, NULL);
    CHECKF(rows == 3 && nulls == 3 && pg == 6, "rows %d, null stream %d, pg tokens %d", rows, nulls,
           pg);
    sqlite3_close(db);
    CHECK(!has_nan(text));
    free(text);
}

/* ---- md, --no-stream, --progress, --json/--jsonl files, -t default */

static void test_md(void)
{
    CHECK(bench("-p 8 -n 4 -r 2 -t 1", "rows.md") == 0);
    char *text = slurp("rows.md");
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK(strstr(text, "| model ") && strstr(text, "size |") && strstr(text, "params |") &&
          strstr(text, "t/s |") && strstr(text, "median |") && strstr(text, "STREAM triad"));
    CHECK(strstr(text, " ± ") != NULL);
    CHECK(strstr(text, "MiB |") && strstr(text, " M |"));
    CHECK(strstr(text, " pp8 |") && strstr(text, " tg4 |") && strstr(text, "% of "));
    /* ASan's shadow memory and quarantine count in VmHWM: the line is
     * checked there, the verdict only in plain builds */
    CHECK(strstr(text, "memory: ") && strstr(text, "MiB limit: "));
    CHECKF(TB_ASAN || strstr(text, "limit: within"), "%s", strstr(text, "memory: "));
    CHECK(!has_nan(text));
    free(text);

    CHECK(bench("-p 8 -n 4 -r 1 -t 1 --no-stream", "nostream.md") == 0);
    text = slurp("nostream.md");
    CHECK(text && strstr(text, "unavailable: --no-stream given") && !has_nan(text));
    free(text);
}

static void test_flags(void)
{
    /* --progress takes no value; progress goes to stderr, the table to stdout */
    CHECK(bench("-p 4 -n 2 -r 1 -t 1 --no-stream --progress", "progress.md") == 0);
    char *err = slurp("progress.md.err");
    CHECK(err && strstr(err, "test 1/2 pp4: warm-up") && strstr(err, "test 2/2 tg2: run 1/1") &&
          !strstr(err, "needs a value"));
    free(err);
    /* -t default: hwloc's physical cores */
    struct tb_topo *topo = NULL;
    struct tb_err te = {0};
    int cores = -1;
    if (tb_topo_open_host(&topo, &te) == TB_OK) {
        struct tb_topo_summary s;
        tb_topo_summarize(topo, &s);
        cores = s.cores;
        tb_topo_free(topo);
    }
    CHECK(cores > 0);
    /* --json FILE: one array (legacy spelling of the README); --jsonl FILE: lines, appended */
    char args[1600];
    snprintf(args, sizeof args,
             "-p 4 -n 2 -r 1 --no-stream --json '%s/f.json' --jsonl '%s/f.jsonl' -o jsonl", g_dir,
             g_dir);
    CHECK(bench(args, "default-t.jsonl") == 0);
    CHECK(bench(args, "default-t2.jsonl") == 0);
    char path[700];
    json_error_t je;
    snprintf(path, sizeof path, "%s/f.json", g_dir);
    json_t *arr = json_load_file(path, 0, &je);
    CHECKF(json_is_array(arr) && json_array_size(arr) == 2, "%s: %s", path, je.text);
    json_t *r0 = json_array_get(arr, 0);
    CHECKF(json_integer_value(json_object_get(r0, "n_threads")) == cores,
           "-t default %lld, hwloc cores %d",
           (long long)json_integer_value(json_object_get(r0, "n_threads")), cores);
    CHECK(json_is_null(json_object_get(r0, "stream_triad_gbs")) &&
          !strcmp(str(r0, "stream_unavailable"), "--no-stream given"));
    json_decref(arr);
    char *lines = slurp("f.jsonl");
    int n = 0;
    for (char *save = NULL, *l = lines ? strtok_r(lines, "\n", &save) : NULL; l;
         l = strtok_r(NULL, "\n", &save), n++) {
        json_t *o = json_loads(l, 0, &je);
        CHECKF(json_is_object(o), "jsonl line %d: %s", n, je.text);
        json_decref(o);
    }
    CHECKF(n == 4, "%d jsonl lines (2 runs x 2 rows, appended)", n);
    free(lines);
    char *out = slurp("default-t.jsonl");
    CHECK(out && out[0] == '{' && !has_nan(out));
    free(out);
    /* f16 KV cache, file-layout weights: recorded as such */
    CHECK(bench("-p 8 -n 4 -r 1 -t 1 --no-stream --kv f16 --no-repack -o jsonl", "kv.jsonl") == 0);
    snprintf(path, sizeof path, "%s/kv.jsonl", g_dir);
    json_t *row = json_load_file(path, JSON_DISABLE_EOF_CHECK, &je);
    CHECK(row && !strcmp(str(row, "type_kv"), "f16") &&
          json_is_false(json_object_get(row, "repack")));
    json_decref(row);
}

static void test_usage_errors(void)
{
    const char *bad[] = {"-r 0",      "--kv q8_0",   "-p 8-4",       "-p 16,,", "-pg 16",
                         "-pg",       "-o xml",      "-x",           "extra",   "-t 0",
                         "-p 0 -n 0", "-d 600 -p 8", "--progress=1", "-p"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECKF(bench(bad[i], "bad.out") == 2, "'%s' should exit 2", bad[i]);
        char *err = slurp("bad.out.err");
        CHECKF(err && !strncmp(err, "tierbench bench: ", 17) && strchr(err, '\n') &&
                   !strchr(err, '\n')[1],
               "'%s': one line on stderr, got '%s'", bad[i], err ? err : "");
        free(err);
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' bench -p 16 >/dev/null 2>&1", g_bin);
    CHECK(run(cmd) == 2);
    snprintf(cmd, sizeof cmd, "'%s' bench --model synth:nope:q8_0 --cache '%s' >/dev/null 2>&1",
             g_bin, g_dir);
    CHECK(run(cmd) == 2);
    snprintf(cmd, sizeof cmd, "'%s' bench --help | grep -q -- '-pg, --pg PP,TG'", g_bin);
    CHECK(run(cmd) == 0);
}

int main(void)
{
    test_parser();
    g_bin = getenv("TB_BIN");
    if (!g_bin || !*g_bin) {
        fprintf(stderr, "TB_BIN is not set (run through ctest)\n");
        return TB_SKIP_CODE;
    }
    static char dir[512];
    tb_test_path(dir, sizeof dir, "bench-cli", "");
    CHECK(mkdir(dir, 0755) == 0);
    g_dir = dir;
    test_json_rows();
    test_csv();
    test_sql();
    test_md();
    test_flags();
    test_usage_errors();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(run(cmd) == 0);
    return tb_test_result("test_bench_cli");
}
