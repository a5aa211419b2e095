#include <cblas.h>

/* OpenBLAS DYNAMIC_ARCH entry points (exported, not in cblas.h): drop and re-run the CPU-specific
 * kernel selection, which honours OPENBLAS_CORETYPE. Used when the build does not know this CPU model
 * and fell back to the generic Prescott (SSE3) kernels. */
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);

/* CPU features, for choosing a core type to force (x86-64 only; 0 elsewhere). */
static inline int ifc_cpu_has_avx512_skylakex(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512cd");
#else
    return 0;
#endif
}

static inline int ifc_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}
