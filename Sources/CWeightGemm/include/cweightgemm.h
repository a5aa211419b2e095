/* Y = X · Wᵀ for fp32 activations X [m, k] and weights W [n, k] stored as fp16, bf16 or fp32 rows,
 * read in place (usually from a pack mapping). The weight is widened 12 (AVX-512) or 6 (AVX2) rows
 * by one k chunk at a time into a small buffer the micro-kernel broadcasts from, so it is read once
 * and never widened or packed as a whole: the work a tiled cblas_sgemm path spends widening each
 * tile and packing it again disappears, and the column split gives small-m products (T5's 2 x 77
 * tokens) the second core that OpenBLAS leaves idle for them.
 *
 * Use: cwg_pack_x once per X, then cwg_multiply on disjoint row ranges of W (one per thread), each
 * with its own partial buffer, all with the same `isa`: cwg_available(), or CWG_AVX2 on an AVX-512
 * machine (tests run both kernels that way). No compiler flags: the kernels carry target
 * attributes. Each output is a k-ordered fp32 sum with fused multiply-add. */
#ifndef CWEIGHTGEMM_H
#define CWEIGHTGEMM_H
#include <stddef.h>
#include <stdint.h>

enum { CWG_NONE = 0, CWG_AVX2 = 1, CWG_AVX512 = 2 };
enum { CWG_F16 = 0, CWG_BF16 = 1, CWG_F32 = 2 };

/* The kernel this CPU runs (checked once): CWG_AVX512, CWG_AVX2 (with FMA and F16C) or CWG_NONE. */
int cwg_available(void);

/* Weight rows per block: cwg_multiply ranges other than the last should be multiples of it. */
size_t cwg_row_block(int isa);

/* Floats cwg_pack_x writes for an X of m rows and k columns, and the number of row blocks. */
size_t cwg_packed_x_count(int isa, size_t m, size_t k);
size_t cwg_x_block_count(int isa, size_t m);
/* Rearranges row blocks [first, end) of X (row stride ldx) into the kernel's layout, rows past m
 * padded with zeros; disjoint block ranges may be packed concurrently. */
void cwg_pack_x(int isa, const float *x, size_t ldx, size_t m, size_t k, size_t first, size_t end, float *packed);

/* Floats of the partial-sum buffer cwg_multiply needs for n weight rows. */
size_t cwg_partial_count(int isa, size_t m, size_t n);

/* y[i * ldy + j] = sum_p x[i, p] * W[j, p] for i < m, j < n, where W[j, p] is element
 * j * ldw + p of `w` (format CWG_F16, CWG_BF16 or CWG_F32) and `y` points at column 0 of the range. */
void cwg_multiply(int isa, const float *packed_x, size_t m, size_t k,
                  const void *w, size_t ldw, int format, size_t n,
                  float *y, size_t ldy, float *partial);
#endif
