/* Fuzz bodies: one function per input format, shared by the libFuzzer
 * targets (tests/fuzz/fuzz_main.c, build-fuzz only) and the CTest replay of
 * the seed corpora and regression inputs (tests/test_fuzz_regress.c).
 *
 * Each body feeds the bytes to the parser, walks everything a caller could
 * reach on success, and checks invariants (error convention, views inside
 * the input, finite results); a violated invariant aborts with a message,
 * which both libFuzzer and the replay test report as a failure. The return
 * value is the parser's status (0 accepted, negative TB_E* rejected). */
#ifndef TB_FUZZ_H
#define TB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

typedef int (*tb_fuzz_body)(const uint8_t *data, size_t size);

int tb_fuzz_gguf(const uint8_t *data, size_t size);    /* tb_gguf_open_memory + walk */
int tb_fuzz_profile(const uint8_t *data, size_t size); /* tb_profile_load_memory */
int tb_fuzz_results(const uint8_t *data, size_t size); /* tb_results_read + series + compare */
int tb_fuzz_trace(const uint8_t *data, size_t size);   /* tb_energy_trace_integrate */
int tb_fuzz_gbench(const uint8_t *data, size_t size);  /* tb_rsrc_load (GB JSON) + compare */
/* tiny model from the input -> GGUF writer -> tb_llama_load -> one forward
 * pass on cpu-ref and cpu (tests/fuzz/fuzz_model.c) */
int tb_fuzz_model(const uint8_t *data, size_t size);

struct tb_fuzz_target {
    const char *name; /* = the corpus directory name under tests/fuzz/corpus/ */
    tb_fuzz_body body;
};
extern const struct tb_fuzz_target tb_fuzz_targets[];
extern const int tb_fuzz_n_targets;

#endif
