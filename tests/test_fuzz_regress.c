/* Replays the fuzz inputs through the fuzz bodies (tests/fuzz/tb_fuzz.h) in
 * the normal and ASan builds, without libFuzzer:
 *   tests/fuzz/corpus/<target>/    seeds: valid inputs, must be accepted;
 *   tests/fuzz/regress/<target>/   inputs that once crashed or broke an
 *                                  invariant: must not any more, and must be
 *                                  rejected (*.bad) or accepted (*.ok).
 * A crash or sanitizer report fails the test as well. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/tb_profile.h"
#include "tb_test.h"
#include "tests/fuzz/tb_fuzz.h"

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The input in a buffer of exactly its size, so ASan sees any over-read. */
static uint8_t *read_input(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    long n = -1;
    if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET))
        buf = malloc(n ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* expect: 0 every input accepted; otherwise by suffix (.bad / .ok).
 * Returns the number of inputs replayed. */
static int replay_dir(const struct tb_fuzz_target *t, const char *kind, int by_suffix)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", TB_SOURCE_DIR, kind, t->name);
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* no regression inputs for this target yet */
    char *names[512];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 512)
        if (de->d_name[0] != '.')
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    for (int i = 0; i < n; i++) {
        char path[1536];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t size = 0;
        uint8_t *data = read_input(path, &size);
        CHECKF(data != NULL, "cannot read %s", path);
        if (data) {
            int rc = t->body(data, size);
            if (!by_suffix)
                CHECKF(rc == 0, "seed %s rejected (%d)", path, rc);
            else if (ends_with(names[i], ".bad"))
                CHECKF(rc < 0, "%s accepted, expected a rejection", path);
            else if (ends_with(names[i], ".ok"))
                CHECKF(rc == 0, "%s rejected (%d), expected acceptance", path, rc);
            else
                CHECKF(0, "%s: name must end in .bad or .ok", path);
        }
        free(data);
        free(names[i]);
    }
    return n;
}

/* tb_profile_load_memory (added for the profile fuzzer) parses like
 * tb_profile_load and names the buffer by its label. */
static void test_profile_memory(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/device_profiles/phone-midrange.ini", TB_SOURCE_DIR);
    size_t size = 0;
    uint8_t *data = read_input(path, &size);
    CHECK(data != NULL);
    if (!data)
        return;
    struct tb_profile *a = NULL, *b = NULL;
    struct tb_err e = {0};
    CHECK(tb_profile_load(path, &a, &e) == 0);
    CHECKF(tb_profile_load_memory((const char *)data, size, path, &b, &e) == 0, "%s", e.msg);
    if (a && b) {
        CHECK(!strcmp(a->name, b->name) && !strcmp(a->path, b->path));
        CHECK(a->n_workloads == b->n_workloads && a->n_slos == b->n_slos);
        CHECK(a->memory_budget == b->memory_budget);
        CHECK(!memcmp(a->workloads, b->workloads, sizeof a->workloads));
    }
    tb_profile_free(a);
    tb_profile_free(b);
    free(data);
    static const char bad[] = "[profile]\nname = x\nthis line has no equals\n";
    CHECK(tb_profile_load_memory(bad, sizeof bad - 1, "mem.ini", &b, &e) == TB_EFORMAT);
    CHECKF(!strncmp(e.msg, "mem.ini:3:", 10), "%s", e.msg);
    CHECK(b == NULL);
    CHECK(tb_profile_load_memory("", 0, "empty.ini", &b, &e) == TB_EFORMAT && b == NULL);
}

int main(void)
{
    test_profile_memory();
    for (int i = 0; i < tb_fuzz_n_targets; i++) {
        const struct tb_fuzz_target *t = &tb_fuzz_targets[i];
        int seeds = replay_dir(t, "corpus", 0);
        CHECKF(seeds > 0, "no seed corpus for fuzz target %s", t->name);
        int regress = replay_dir(t, "regress", 1);
        printf("%-8s %d seeds, %d regression inputs\n", t->name, seeds, regress);
    }
    return tb_test_result("test_fuzz_regress");
}
