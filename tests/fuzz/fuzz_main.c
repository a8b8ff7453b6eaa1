/* libFuzzer entry point; compiled once per target with
 * -DTB_FUZZ_BODY=tb_fuzz_<name> (CMake block TB_FUZZ). */
#include "tests/fuzz/tb_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    TB_FUZZ_BODY(data, size); /* rejection is a normal outcome; findings abort */
    return 0;
}
