// Per-row 7-bit quantization of the int8 linear layer's inputs, and the float epilogue that turns
// its exact int32 products into outputs. Included by int8_linear.h only.
//
// x . w ~ scale[n] * (sx[r] * (u . q) + low[r] * sum_k q[n, k]), with x ~ low[r] + sx[r] * u
// (u in [0, 127]) and w ~ scale[n] * q (q in [-63, 63]).

#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace int8_kernel {

constexpr int64_t kAlign = 32;  // int8 rows are padded to whole 32-byte vectors
constexpr float kTop = 127.f;   // largest u: 7-bit inputs (int8_linear.h adds two pair sums)

// The smallest and largest of x[0..n) (n >= 1; no NaN: then the order of comparisons does not
// matter, and the vector loop gives the scalar loop's result).
inline void row_range(const float* x, int64_t n, float& lo, float& hi) {
  lo = x[0];
  hi = x[0];
  int64_t k = 1;
#if defined(__AVX2__)
  if (n >= 8) {
    __m256 vlo = _mm256_loadu_ps(x), vhi = vlo;
    for (k = 8; k + 8 <= n; k += 8) {
      const __m256 v = _mm256_loadu_ps(x + k);
      vlo = _mm256_min_ps(vlo, v);
      vhi = _mm256_max_ps(vhi, v);
    }
    alignas(32) float lows[8], highs[8];
    _mm256_store_ps(lows, vlo);
    _mm256_store_ps(highs, vhi);
    for (int i = 0; i < 8; ++i) {
      lo = std::min(lo, lows[i]);
      hi = std::max(hi, highs[i]);
    }
  }
#endif
  for (; k < n; ++k) {
    lo = std::min(lo, x[k]);
    hi = std::max(hi, x[k]);
  }
}

// u[k] = min(kTop, nearbyint((x[k] - lo) * inv)) for k < n: the same operations, each rounded
// alike, 8 at a time on AVX2 (round to nearest even, as nearbyint in the default mode).
inline void quantize_row(const float* x, int64_t n, float lo, float inv, uint8_t* u) {
  int64_t k = 0;
#if defined(__AVX2__)
  const __m256 vlo = _mm256_set1_ps(lo), vinv = _mm256_set1_ps(inv), top = _mm256_set1_ps(kTop);
  for (; k + 8 <= n; k += 8) {
    const __m256 scaled = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + k), vlo), vinv);
    const __m256 rounded = _mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i ints = _mm256_cvtps_epi32(_mm256_min_ps(rounded, top));  // 0..kTop
    const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(ints),
                                           _mm256_extracti128_si256(ints, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(u + k), _mm_packus_epi16(words, words));
  }
#endif
  for (; k < n; ++k) u[k] = static_cast<uint8_t>(std::min(kTop, std::nearbyint((x[k] - lo) * inv)));
}

// Per-row asymmetric 7-bit quantization of x (R, Din): x[r, k] ~ low[r] + sx[r] * u[r, k] with
// u in [0, kTop] (zero padded to Kp).
void quantize_rows(const float* x, int64_t rows, int64_t din, int64_t kp, uint8_t* u, float* sx,
                   float* low) {
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * din;
      float lo, hi;
      row_range(xr, din, lo, hi);
      const float scale = hi > lo ? (hi - lo) / kTop : 1.f;
      const float inv = 1.f / scale;
      uint8_t* ur = u + r * kp;
      quantize_row(xr, din, lo, inv, ur);
      for (int64_t k = din; k < kp; ++k) ur[k] = 0;
      sx[r] = scale;
      low[r] = lo;
    }
  });
}

// How int32 products become outputs: y[r, n] = scale[n] * (sx[r] * acc + low[r] * sums[n])
// + bias[n]. Both forms spell out their fused multiply-adds, so that a column computed one at a
// time (a shortlist's) and eight at a time (a dense layer's) round alike, bit for bit.
struct Epilogue {
  const float* sx;
  const float* low;
  const float* scale;
  const int32_t* sums;
  const float* bias;  // may be null
  float* y;
  int64_t stride;  // of y's rows
  int64_t n;       // columns of y that exist (the weights may be padded beyond)

  inline void store(int64_t r, int64_t col, int32_t acc) const {
    const float inner =
        std::fma(sx[r], static_cast<float>(acc), low[r] * static_cast<float>(sums[col]));
    y[r * stride + col] = bias ? std::fma(scale[col], inner, bias[col]) : scale[col] * inner;
  }

#if defined(__AVX2__)
  // Columns col .. col + 7 of row r (those below n).
  inline void store8(int64_t r, int64_t col, __m256i acc) const {
    if (col >= n) return;
    if (col + 8 > n) {  // a partial block: one column at a time, with the same arithmetic
      alignas(32) int32_t lanes[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
      for (int64_t c = col; c < n; ++c) store(r, c, lanes[c - col]);
      return;
    }
    const __m256 column_sums =
        _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + col)));
    const __m256 inner = _mm256_fmadd_ps(_mm256_set1_ps(sx[r]), _mm256_cvtepi32_ps(acc),
                                         _mm256_mul_ps(_mm256_set1_ps(low[r]), column_sums));
    const __m256 scales = _mm256_loadu_ps(scale + col);
    const __m256 v = bias ? _mm256_fmadd_ps(scales, inner, _mm256_loadu_ps(bias + col))
                          : _mm256_mul_ps(scales, inner);
    _mm256_storeu_ps(y + r * stride + col, v);
  }
#endif
};

}  // namespace int8_kernel
