// One-line forwards from the C interface in tb_bench.h to Google Benchmark
// (Debian's 1.7.1). The only C++ in the project: keep logic out of here.
#include "harness/bench/tb_bench.h"

#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

static benchmark::State &S(struct tb_bench_state *st)
{
    return *reinterpret_cast<benchmark::State *>(st);
}
static const benchmark::State &S(const struct tb_bench_state *st)
{
    return *reinterpret_cast<const benchmark::State *>(st);
}

bool tb_bench_keep_running(struct tb_bench_state *st)
{
    return S(st).KeepRunningBatch(1);
}
void tb_bench_pause_timing(struct tb_bench_state *st)
{
    S(st).PauseTiming();
}
void tb_bench_resume_timing(struct tb_bench_state *st)
{
    S(st).ResumeTiming();
}
void tb_bench_skip_with_error(struct tb_bench_state *st, const char *msg)
{
    S(st).SkipWithError(msg);
}
void tb_bench_set_bytes_processed(struct tb_bench_state *st, int64_t bytes)
{
    S(st).SetBytesProcessed(bytes);
}
void tb_bench_set_items_processed(struct tb_bench_state *st, int64_t items)
{
    S(st).SetItemsProcessed(items);
}
void tb_bench_set_label(struct tb_bench_state *st, const char *label)
{
    S(st).SetLabel(label);
}
int64_t tb_bench_range(const struct tb_bench_state *st, int i)
{
    return S(st).range(static_cast<size_t>(i));
}
int64_t tb_bench_iterations(const struct tb_bench_state *st)
{
    return S(st).iterations();
}
int tb_bench_thread_index(const struct tb_bench_state *st)
{
    return S(st).thread_index();
}
int tb_bench_threads(const struct tb_bench_state *st)
{
    return S(st).threads();
}

void tb_bench_set_counter(struct tb_bench_state *st, const char *name, double value, unsigned flags)
{
    using C = benchmark::Counter;
    int f = 0;
    if (flags & TB_BENCH_COUNTER_RATE)
        f |= C::kIsRate;
    if (flags & TB_BENCH_COUNTER_AVG_THREADS)
        f |= C::kAvgThreads;
    if (flags & TB_BENCH_COUNTER_PER_ITERATION)
        f |= C::kIsIterationInvariant;
    if (flags & TB_BENCH_COUNTER_AVG_ITERATIONS)
        f |= C::kAvgIterations;
    if (flags & TB_BENCH_COUNTER_INVERT)
        f |= C::kInvert;
    S(st).counters[name] = C(value, static_cast<C::Flags>(f),
                             (flags & TB_BENCH_COUNTER_BASE_1024) ? C::kIs1024 : C::kIs1000);
}

int tb_bench_register(const struct tb_bench_def *d, struct tb_err *err)
{
    if (!d->name || !*d->name || !d->fn)
        return tb_err_set(err, TB_EINVAL,
                          "tb_bench_register: benchmark needs a name and a function");
    // Arguments: none, or n_args values in explicit sets or in ranges (not both).
    bool has_args = d->n_arg_sets > 0 || d->use_ranges;
    if (d->n_args < 0 || d->n_args > TB_BENCH_MAX_ARGS || d->n_arg_sets < 0 ||
        d->n_arg_sets > TB_BENCH_MAX_ARG_SETS || (d->n_args > 0) != has_args ||
        (d->n_arg_sets > 0 && d->use_ranges))
        return tb_err_set(err, TB_EINVAL,
                          "tb_bench_register: %s: bad argument counts (%d args x %d sets)", d->name,
                          d->n_args, d->n_arg_sets);
    if (d->min_time < 0 || d->iterations < 0 || d->repetitions < 0 || d->threads < 0 ||
        (d->min_time > 0 && d->iterations > 0))
        return tb_err_set(
            err, TB_EINVAL,
            "tb_bench_register: %s: negative setting, or both min_time and iterations", d->name);
    for (int i = 0; d->use_ranges && i < d->n_args; i++)
        if (d->ranges[i][0] > d->ranges[i][1] || d->ranges[i][0] < 0)
            return tb_err_set(err, TB_EINVAL, "tb_bench_register: %s: range %d is [%lld, %lld]",
                              d->name, i, (long long)d->ranges[i][0], (long long)d->ranges[i][1]);

    tb_bench_fn fn = d->fn;
    void *user = d->user;
    benchmark::internal::Benchmark *b =
        benchmark::RegisterBenchmark(d->name, [fn, user](benchmark::State &s) {
            fn(reinterpret_cast<struct tb_bench_state *>(&s), user);
        });
    if (d->use_ranges) {
        std::vector<std::pair<int64_t, int64_t>> r;
        for (int i = 0; i < d->n_args; i++)
            r.emplace_back(d->ranges[i][0], d->ranges[i][1]);
        b->Ranges(r);
    }
    for (int s = 0; s < d->n_arg_sets; s++)
        b->Args(std::vector<int64_t>(d->args[s], d->args[s] + d->n_args));
    if (d->n_args > 0 && d->arg_names[0]) {
        std::vector<std::string> names;
        for (int i = 0; i < d->n_args; i++)
            names.emplace_back(d->arg_names[i] ? d->arg_names[i] : "");
        b->ArgNames(names);
    }
    if (d->min_time > 0)
        b->MinTime(d->min_time);
    if (d->iterations > 0)
        b->Iterations(d->iterations);
    if (d->repetitions > 0)
        b->Repetitions(d->repetitions);
    if (d->threads > 0)
        b->Threads(d->threads);
    if (d->use_real_time)
        b->UseRealTime();
    return TB_OK;
}

int tb_bench_initialize(int *argc, char **argv, struct tb_err *err)
{
    benchmark::Initialize(argc, argv);
    if (*argc > 1)
        return tb_err_set(err, TB_EINVAL, "unknown argument '%s' (see --help)", argv[1]);
    return TB_OK;
}

void tb_bench_add_context(const char *key, const char *value)
{
    benchmark::AddCustomContext(key, value);
}
size_t tb_bench_run_all(void)
{
    return benchmark::RunSpecifiedBenchmarks();
}

void tb_bench_shutdown(void)
{
    benchmark::ClearRegisteredBenchmarks();
    benchmark::Shutdown();
}
