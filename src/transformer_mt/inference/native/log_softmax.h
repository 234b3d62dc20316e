// The log-softmax of the native step's logits, row by row in place: over the whole vocabulary
// with vector_math.h's exp (each row's thread takes it right after the output layer, so no
// second (R, V) array is written), or over a shortlist's listed columns. Included by
// decoder_step.cpp only.

#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "vector_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace log_softmax_kernel {

#if defined(__AVX2__)
using vector_math::exp8;
using vector_math::lane_max;
using vector_math::lane_sum;
#endif

// y[0..v) = y - log(sum(exp(y))), with the largest subtracted first (finite logits).
inline void log_softmax_row(float* y, int64_t v) {
  int64_t i = 0;
  float top = -INFINITY, total = 0.f;
#if defined(__AVX2__)
  if (v >= 8) {
    __m256 best = _mm256_loadu_ps(y);
    for (i = 8; i + 8 <= v; i += 8) best = _mm256_max_ps(best, _mm256_loadu_ps(y + i));
    top = lane_max(best);
  }
  const int64_t vectors = i;
  for (; i < v; ++i) top = std::max(top, y[i]);
  const __m256 shift = _mm256_set1_ps(top);
  __m256 sum = _mm256_setzero_ps();
  for (i = 0; i < vectors; i += 8)
    sum = _mm256_add_ps(sum, exp8(_mm256_sub_ps(_mm256_loadu_ps(y + i), shift)));
  total = lane_sum(sum);
#else
  for (; i < v; ++i) top = std::max(top, y[i]);
  i = 0;
#endif
  for (; i < v; ++i) total += std::exp(y[i] - top);
  const float offset = top + std::log(total);
  i = 0;
#if defined(__AVX2__)
  const __m256 by = _mm256_set1_ps(offset);
  for (; i + 8 <= v; i += 8) _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_loadu_ps(y + i), by));
#endif
  for (; i < v; ++i) y[i] -= offset;
}

// Each row r of y (R, V) over its sentence's listed columns ids[(r / beams) * width ..] only (a
// -1 ends a list), in place; the other columns are left as they are.
inline void log_softmax_listed(float* y, int64_t rows, int64_t v, int64_t beams,
                               const int64_t* ids, int64_t width) {
  at::parallel_for(0, rows, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t* cols = ids + (r / beams) * width;
      const int64_t count = std::find(cols, cols + width, int64_t{-1}) - cols;
      float* yr = y + r * v;
      float top = -INFINITY, total = 0.f;
      for (int64_t j = 0; j < count; ++j) top = std::max(top, yr[cols[j]]);
      for (int64_t j = 0; j < count; ++j) total += std::exp(yr[cols[j]] - top);
      const float shift = top + std::log(total);
      for (int64_t j = 0; j < count; ++j) yr[cols[j]] -= shift;
    }
  });
}

// Every row of y (R, V), in place.
inline void log_softmax_rows(float* y, int64_t rows, int64_t v) {
  at::parallel_for(0, rows, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) log_softmax_row(y + r * v, v);
  });
}

}  // namespace log_softmax_kernel
