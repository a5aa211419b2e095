/* Bulk fp16/bf16 <-> fp32 conversion. Uses F16C/AVX2 when the CPU has them (checked once at run
 * time, no compiler flags needed), else a scalar path with identical results.
 * fp32 -> fp16 and fp32 -> bf16 round to nearest, ties to even; NaN stays NaN (quiet). */
#ifndef CHALFCONVERT_H
#define CHALFCONVERT_H
#include <stddef.h>
#include <stdint.h>

void chc_f16_to_f32(const uint16_t *src, float *dst, size_t count);
void chc_f32_to_f16(const float *src, uint16_t *dst, size_t count);
void chc_bf16_to_f32(const uint16_t *src, float *dst, size_t count);
void chc_f32_to_bf16(const float *src, uint16_t *dst, size_t count);

/* Scalar reference versions (define the meaning; tests compare the fast paths against them). */
void chc_f16_to_f32_reference(const uint16_t *src, float *dst, size_t count);
void chc_f32_to_f16_reference(const float *src, uint16_t *dst, size_t count);

/* 1 when the F16C path is in use. */
int chc_has_f16c(void);
#endif
