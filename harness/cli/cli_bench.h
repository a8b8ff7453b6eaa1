/* tierbench bench, private to harness/cli/cli_bench*.c: the options
 * (cli_bench.c), the test runner (cli_bench_run.c) and the printers
 * (cli_bench_out.c). Conventions follow llama-bench: value lists and ranges
 * for -p -n -t -d, -pg pp,tg, one row per test, "mean ± sd" of tokens/s,
 * -o md|csv|json|jsonl|sql. */
#ifndef TB_CLI_BENCH_H
#define TB_CLI_BENCH_H

#include <stdint.h>
#include <stdio.h>

#include "kernels/tb_error.h"

#define TB_CBENCH_LIST_MAX 64 /* values one list option expands to */

/* A comma list of values and ranges, as llama-bench's parse_int_range:
 * "16", "16,32", "first-last" (step 1), "first-last+step",
 * "first-last*mult" (mult >= 2). Every value within [lo, hi]; at most max
 * values. Appends to out[*n] (so a repeated option adds values). 0, or
 * TB_EINVAL with the one-line reason in err (opt names the option). */
int tb_cbench_parse_list(const char *opt, const char *s, int lo, int hi, int *out, int max, int *n,
                         struct tb_err *err);

enum tb_cbench_fmt { TB_CBENCH_MD, TB_CBENCH_CSV, TB_CBENCH_JSON, TB_CBENCH_JSONL, TB_CBENCH_SQL };
/* "md", "csv", "json", "jsonl", "sql" -> the format, else -1. */
int tb_cbench_fmt_from_name(const char *name);

struct tb_cbench_pg {
    int pp, tg;
};

struct tb_cbench_args {
    const char *models[TB_CBENCH_LIST_MAX];
    int n_models;
    const char *backend, *cache, *json, *jsonl;
    int pp[TB_CBENCH_LIST_MAX], n_pp;
    int tg[TB_CBENCH_LIST_MAX], n_tg;
    int depth[TB_CBENCH_LIST_MAX], n_depth;
    int threads[TB_CBENCH_LIST_MAX], n_threads;
    struct tb_cbench_pg pg[TB_CBENCH_LIST_MAX];
    int n_pg;
    int reps, isa_cap, kv_type;
    int no_stream, no_repack, progress;
    enum tb_cbench_fmt fmt;
    char threads_note[256]; /* how the -t default was found (hwloc or not) */
};

/* One finished test (one output row). Figures that could not be read are
 * NaN here and "unavailable: <reason>" / null / empty / NULL in output. */
struct tb_cbench_row {
    const char *model;          /* the spec as given */
    char model_type[64];        /* synth:SHAPE, or the file name */
    char weight_type[16];       /* dominant weight type */
    uint64_t model_size;        /* bytes of all tensors (llama-bench model_size) */
    uint64_t model_n_params;    /* elements of all tensors */
    long long model_file_bytes; /* -1 unknown */
    const char *backend;
    char isa[16];
    int threads;
    char kv_type[8];
    int repack;
    int n_prompt, n_gen, n_depth;
    char test[48]; /* "pp16", "tg8", "pp16+tg8", + " @ d32" */
    int reps;
    char test_time[32];   /* RFC 3339, UTC */
    uint64_t *samples_ns; /* [reps], owned by the row */
    double *samples_ts;   /* [reps] tokens/s, owned */
    double avg_ns, stddev_ns;
    double avg_ts, stddev_ts, median_ts, min_ts, max_ts;
    double gflops;                              /* GFLOP/s at the median */
    double weight_gbs;                          /* GB/s of matmul weights at the median (tg) */
    double stream_before, stream_after, stream; /* triad GB/s; NaN when not measured */
    char stream_reason[200];                    /* why stream is NaN ("" when measured) */
    double stream_share;                        /* weight_gbs / stream (tg rows); NaN otherwise */
    long long peak_rss_kib;                     /* of the model's group; -1 unknown */
    long long rss_limit_kib;                    /* model file + KV cache + 100 MiB */
    int rss_reset;                              /* 1: peak RSS covers the engine only */
    uint64_t kv_bytes;
};

/* The printers: begin once, one row per finished test, end once. */
struct tb_cbench_out {
    FILE *f;
    enum tb_cbench_fmt fmt;
    int rows;
    char *notes; /* md: memory lines printed after the table (malloc'd) */
    size_t notes_len;
};
void tb_cbench_out_begin(struct tb_cbench_out *o, FILE *f, enum tb_cbench_fmt fmt);
void tb_cbench_out_row(struct tb_cbench_out *o, const struct tb_cbench_row *r);
/* md: one memory line per model/threads group, printed at the end. */
void tb_cbench_out_note(struct tb_cbench_out *o, const char *line);
/* 0, or -1 when writing failed (ferror). */
int tb_cbench_out_end(struct tb_cbench_out *o);

/* Sinks every finished row goes to: stdout in -o's format and the optional
 * --json / --jsonl files. */
struct tb_cbench_sinks {
    struct tb_cbench_out out[3];
    int n;
};

/* Runs every test of one model at one thread count (STREAM triad before and
 * after), handing each row to the sinks. Input errors are negative codes
 * with the message in err. */
int tb_cbench_run_model(const struct tb_cbench_args *a, const char *spec, int threads, int group,
                        int n_groups, struct tb_cbench_sinks *sinks, struct tb_err *err);

#endif
