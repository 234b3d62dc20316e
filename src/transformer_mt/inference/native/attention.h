// Attention of the native decoder step over its cache: self-attention over each beam's own
// history (through the ancestor table), cross-attention over its sentence's source; plain
// loops with AVX2 dot products. Included by decoder_step.cpp only.
//
// Shape letters as in decoder_step.cpp.

#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "vector_math.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace attention_kernel {

// Keys and values are float, or fp16 in a large cache (half the memory traffic; F16C on AVX2).
#if defined(__AVX2__)
inline __m256 load8(const float* x) { return _mm256_loadu_ps(x); }
inline __m256 load8(const c10::Half* x) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
}
#endif

// y[0..k) = x[0..k) as T (fp16: rounded to nearest even, as c10::Half's conversion rounds).
inline void store_row(const float* x, float* y, int64_t k) { std::copy(x, x + k, y); }
inline void store_row(const float* x, c10::Half* y, int64_t k) {
  int64_t i = 0;
#if defined(__AVX2__)
  for (; i + 8 <= k; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < k; ++i) y[i] = static_cast<c10::Half>(x[i]);
}

template <typename T>
inline float dot(const float* a, const T* b, int64_t k) {
  int64_t i = 0;
  float s = 0.f;
#if defined(__AVX2__)
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= k; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load8(b + i + 8), acc1);
  }
  for (; i + 8 <= k; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), acc0);
  s = vector_math::lane_sum(_mm256_add_ps(acc0, acc1));
#endif
  for (; i < k; ++i) s += a[i] * static_cast<float>(b[i]);
  return s;
}

template <typename T>
inline void axpy(float w, const T* x, float* y, int64_t k) {
  int64_t i = 0;
#if defined(__AVX2__)
  const __m256 wv = _mm256_set1_ps(w);
  for (; i + 8 <= k; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(wv, load8(x + i), _mm256_loadu_ps(y + i)));
#endif
  for (; i < k; ++i) y[i] += w * static_cast<float>(x[i]);
}

// Room for count scores: softmax works on whole vectors of 8.
inline size_t score_room(int64_t count) { return static_cast<size_t>((count + 7) / 8 * 8); }

// softmax(scores[0..count)) in place (some may be -inf; at least one is finite); scores has
// score_room(count) floats. On AVX2 every score takes the same exp and adds into lane j % 8 of
// the sum whatever count is, so -inf scores (padding) change no bit of the others.
inline void softmax(float* scores, int64_t count) {
#if defined(__AVX2__)
  const int64_t room = static_cast<int64_t>(score_room(count));
  std::fill(scores + count, scores + room, -INFINITY);
  __m256 best = _mm256_set1_ps(-INFINITY);
  for (int64_t i = 0; i < room; i += 8) best = _mm256_max_ps(best, _mm256_loadu_ps(scores + i));
  const __m256 top = _mm256_set1_ps(vector_math::lane_max(best));
  __m256 sum = _mm256_setzero_ps();
  for (int64_t i = 0; i < room; i += 8) {
    const __m256 e = vector_math::exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + i), top));
    _mm256_storeu_ps(scores + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  const __m256 inv = _mm256_set1_ps(1.f / vector_math::lane_sum(sum));
  for (int64_t i = 0; i < room; i += 8)
    _mm256_storeu_ps(scores + i, _mm256_mul_ps(_mm256_loadu_ps(scores + i), inv));
#else
  float top = -INFINITY;
  for (int64_t i = 0; i < count; ++i) top = std::max(top, scores[i]);
  float total = 0.f;
  for (int64_t i = 0; i < count; ++i) {
    scores[i] = std::exp(scores[i] - top);
    total += scores[i];
  }
  const float inv = 1.f / total;
  for (int64_t i = 0; i < count; ++i) scores[i] *= inv;
#endif
}

// Asks for the cache lines of one head's key or value (k values of T) ahead of their use.
template <typename T>
inline void prefetch_row(const T* x, int64_t k) {
#if defined(__AVX2__)
  const char* bytes = reinterpret_cast<const char*>(x);
  for (int64_t b = 0; b < k * static_cast<int64_t>(sizeof(T)); b += 64)
    _mm_prefetch(bytes + b, _MM_HINT_T0);
#endif
}

// out[0..k) = sum over p < count of w[p] * row(p)[0..k), the terms added in order of p
// (those with w[p] == 0 skipped): as axpy into a zeroed out, p by p, but 64 columns at a time
// held in registers instead of stored and reloaded at every p (one fused multiply-add chain
// per column either way, so the result is the same bit for bit).
template <typename T, typename Row>
inline void weighted_rows(const float* w, int64_t count, Row row, int64_t k, float* out) {
  int64_t i = 0;
#if defined(__AVX2__)
  for (; i + 64 <= k; i += 64) {
    __m256 acc[8];
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
    for (int64_t p = 0; p < count; ++p) {
      if (w[p] == 0.f) continue;
      const __m256 wv = _mm256_set1_ps(w[p]);
      const T* x = row(p) + i;
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(wv, load8(x + 8 * j), acc[j]);
    }
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(out + i + 8 * j, acc[j]);
  }
#endif
  if (i == k) return;
  std::fill(out + i, out + k, 0.f);
  for (int64_t p = 0; p < count; ++p)
    if (w[p] != 0.f) axpy(w[p], row(p) + i, out + i, k - i);
}

struct Shapes {
  int64_t sentences, beams, rows, heads, width, d;
};

// Self-attention of row r over its own history: qkv (R, 3D); keys/values (A, H, C, N, K).
template <typename T>  // float or c10::Half keys and values
inline void self_attention(const Shapes& s, const float* qkv, T* keys, T* values, int64_t capacity,
                    int64_t position, const int64_t* ancestors, int64_t anc_capacity,
                    float* context) {
  const int64_t d = s.d, k_width = s.width, n_beams = s.beams;
  // Store this step's keys and values at (a, h, position, n).
  for (int64_t r = 0; r < s.rows; ++r) {
    const int64_t a = r / n_beams, n = r % n_beams;
    for (int64_t h = 0; h < s.heads; ++h) {
      const int64_t slot = (((a * s.heads + h) * capacity + position) * n_beams + n) * k_width;
      store_row(qkv + r * 3 * d + d + h * k_width, keys + slot, k_width);
      store_row(qkv + r * 3 * d + 2 * d + h * k_width, values + slot, k_width);
    }
  }
  const float scale = 1.f / std::sqrt(static_cast<float>(k_width));
  at::parallel_for(0, s.rows * s.heads, 16, [&](int64_t i0, int64_t i1) {
    std::vector<float> scores(score_room(position + 1));
    std::vector<float> q(static_cast<size_t>(k_width));
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t r = i / s.heads, h = i % s.heads, a = r / n_beams, n = r % n_beams;
      for (int64_t k = 0; k < k_width; ++k) q[k] = qkv[r * 3 * d + h * k_width + k] * scale;
      const int64_t base = (a * s.heads + h) * capacity;
      const int64_t* own = ancestors ? ancestors + (a * n_beams + n) * anc_capacity : nullptr;
      // The slot of position p of this beam's history: its ancestor's (or its own).
      auto slot = [&](int64_t p) { return ((base + p) * n_beams + (own ? own[p] : n)) * k_width; };
      constexpr int64_t kAhead = 4;  // positions whose key and value are fetched in advance
      for (int64_t p = 0; p <= position; ++p) {
        if (p + kAhead <= position) {
          prefetch_row(keys + slot(p + kAhead), k_width);
          prefetch_row(values + slot(p + kAhead), k_width);
        }
        scores[p] = dot(q.data(), keys + slot(p), k_width);
      }
      softmax(scores.data(), position + 1);
      auto value_at = [&](int64_t p) { return values + slot(p); };
      weighted_rows<T>(scores.data(), position + 1, value_at, k_width,
                       context + r * d + h * k_width);
    }
  });
}

// Cross-attention: queries (R, D), keys/values (A, H, S, K), valid (A, S) or null.
template <typename T>  // float or c10::Half keys and values
inline void cross_attention(const Shapes& s, const float* queries, const T* keys, const T* values,
                     int64_t source_length, const bool* valid, float* context) {
  const int64_t d = s.d, k_width = s.width;
  const float scale = 1.f / std::sqrt(static_cast<float>(k_width));
  at::parallel_for(0, s.rows * s.heads, 16, [&](int64_t i0, int64_t i1) {
    std::vector<float> scores(score_room(source_length));
    std::vector<float> q(static_cast<size_t>(k_width));
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t r = i / s.heads, h = i % s.heads, a = r / s.beams;
      for (int64_t k = 0; k < k_width; ++k) q[k] = queries[r * d + h * k_width + k] * scale;
      const T* kh = keys + (a * s.heads + h) * source_length * k_width;
      const T* vh = values + (a * s.heads + h) * source_length * k_width;
      for (int64_t j = 0; j < source_length; ++j)
        scores[j] = (valid && !valid[a * source_length + j])
                        ? -INFINITY
                        : dot(q.data(), kh + j * k_width, k_width);
      softmax(scores.data(), source_length);
      auto value_at = [&](int64_t j) { return vh + j * k_width; };
      weighted_rows<T>(scores.data(), source_length, value_at, k_width,
                       context + r * d + h * k_width);
    }
  });
}

}  // namespace attention_kernel
