/* q8_0 and int8-rowwise quantizing kernels with AVX2/F16C (runtime-dispatched, no compiler flags).
 * Bit-identical to IFQuant's ReferenceQuantizer (ggml's quantize_row_q8_0_ref as gguf-py computes it):
 * d = absmax / 127 in float32, id = 1/d (0 when d is 0 or 1/d is not finite), q = roundf(x * id)
 * (round half away from zero), the fp16 scale rounded to nearest even. No fused multiply-add.
 * Callers use these only when cqk_available() is 1 (the Swift SIMD path is the fallback). */
#ifndef CQUANTKERNELS_H
#define CQUANTKERNELS_H
#include <stddef.h>
#include <stdint.h>

/* 1 when the CPU has AVX2 and F16C (checked once). */
int cqk_available(void);

/* Encodes `blocks` consecutive q8_0 blocks (32 elements, 34 bytes each) from fp32 or fp16 input
 * (any alignment). Returns `blocks` when all went well, else the index of the first block whose
 * input holds inf/NaN; *first_overflow gets the first block whose fp16 scale is inf (or `blocks`). */
size_t cqk_q8_0_f32(const float *src, size_t blocks, uint8_t *dst, size_t *first_overflow);
size_t cqk_q8_0_f16(const uint16_t *src, size_t blocks, uint8_t *dst, size_t *first_overflow);

/* int8 row-wise: scale = absmax/127, q = clamp(roundf(x * (1/scale)), -127, 127) for one row of `count`
 * elements. Returns 0 when the row holds inf/NaN, else 1 (*scale written). */
int cqk_int8_row_f32(const float *src, size_t count, int8_t *dst, float *scale);
int cqk_int8_row_f16(const uint16_t *src, size_t count, int8_t *dst, float *scale);
#endif
