/* Environment capture for results manifests: what produced a figure
 * (tierbench version and source state, compiler and flags) and where it was
 * measured (CPU model and ISA flags, kernel, frequency governor, host, time).
 * Anything that cannot be read is recorded as the string
 * "unavailable: <reason>" instead of being left out or guessed.
 *
 * Also the provenance hash of profiles, model files and results files:
 * SHA-256 from nettle, written "sha256:<64 lowercase hex digits>" (the same
 * form as the environment's topology_hash). FNV-1a 64 stays for internal
 * non-provenance checksums only (the reference-logits cache key and body
 * checksum, the results store's run key). */
#ifndef TB_ENV_H
#define TB_ENV_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kernels/tb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* New object (caller decrefs) with:
 *   tierbench: {version, git_commit_configured (when CMake ran),
 *               source_git_commit, source_git_dirty (the source tree
 *               TB_SOURCE_DIR at run time; "unavailable: ..." when git or
 *               the tree is absent)}
 *   build: {compiler, compiler_version_string, c_flags, build_type}
 *   cpu: {model (hwloc's CPUModel info), logical_cpus_online,
 *         isa_flags: [..] (/proc/cpuinfo flags), governor, cur_freq_khz,
 *         max_freq_khz, boost}
 *   kernel: {sysname, release, version, machine}
 *   topology_hash ("sha256:<64 hex>", tb_topo_hash), memory_total_kib,
 *   hostname, timestamp_utc (ISO 8601),
 *   components: {} and devices: [] for the hooks below.
 * Returns NULL only on allocation failure (err says so). tb_env_capture loads
 * the live host's topology for cpu.model and topology_hash;
 * tb_env_capture_topo takes them from topo (NULL: the host's, loaded). */
struct tb_topo;
json_t *tb_env_capture(struct tb_err *err);
json_t *tb_env_capture_topo(const struct tb_topo *topo, struct tb_err *err);

/* Records a library/component version (e.g. "papi", "hwloc"):
 * components[name] = version, or "unavailable: <reason>" when version is
 * NULL. */
int tb_env_set_component(json_t *env, const char *name, const char *version, const char *reason,
                         struct tb_err *err);

/* Appends {"backend": backend, "device": device} to env["devices"]. */
int tb_env_add_device(json_t *env, const char *backend, const char *device, struct tb_err *err);

/* The "FIELD: N kB" line of a /proc file (/proc/self/status VmHWM,
 * /proc/meminfo MemTotal): N, or -1 when the file cannot be read (errno set)
 * or has no such line. */
long long tb_proc_kib(const char *path, const char *field);

#define TB_FNV1A64_INIT 0xcbf29ce484222325ULL
/* Streaming FNV-1a 64: h = tb_fnv1a64(chunk, n, h), starting at TB_FNV1A64_INIT.
 * Internal checksums only (see the top of this file), never provenance. */
uint64_t tb_fnv1a64(const void *data, size_t n, uint64_t h);

#define TB_SHA256_BYTES 32
#define TB_HASH_STR_MAX 72 /* "sha256:" + 64 hex + NUL */
/* "sha256:" + the digest in lowercase hex. */
void tb_sha256_format(const unsigned char digest[TB_SHA256_BYTES], char out[TB_HASH_STR_MAX]);
/* SHA-256 of n bytes, as "sha256:<hex>". */
void tb_sha256_str(const void *data, size_t n, char out[TB_HASH_STR_MAX]);
/* Hashes a regular file's contents (read in 1 MiB chunks) with SHA-256 into
 * "sha256:<64 hex>"; a FIFO, directory or device is TB_EIO (tb_file_open_read). */
int tb_file_hash(const char *path, char out[TB_HASH_STR_MAX], struct tb_err *err);

#ifdef __cplusplus
}
#endif
#endif
