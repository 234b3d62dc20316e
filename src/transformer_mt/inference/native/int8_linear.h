// The int8 linear layer of the native decoder step: per-row 8-bit quantization of the inputs,
// 7-bit per-channel weights, exact int32 products (AVX2 where compiled for it, portable C++
// otherwise) and the float epilogue. Included by decoder_step.cpp only.
//
// x . w ~ scale[n] * (sx[r] * (u . q) + low[r] * sum_k q[n, k]), with x ~ low[r] + sx[r] * u
// (u in [0, 255]) and w ~ scale[n] * q (q in [-63, 63]). On AVX2, maddubs multiplies u
// (unsigned) by q (signed) into int16 pair sums: 2 * 255 * 63 fits, so nothing saturates.
// (Measured: 8-bit inputs with 7-bit weights stay closer to fp32 than the reverse.)

#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace int8_kernel {

constexpr int64_t kAlign = 32;  // int8 rows are padded to whole 32-byte vectors

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

// u[k] = min(255, nearbyint((x[k] - lo) * inv)) for k < n: the same operations, each rounded
// alike, 8 at a time on AVX2 (round to nearest even, as nearbyint in the default mode).
inline void quantize_row(const float* x, int64_t n, float lo, float inv, uint8_t* u) {
  int64_t k = 0;
#if defined(__AVX2__)
  const __m256 vlo = _mm256_set1_ps(lo), vinv = _mm256_set1_ps(inv), top = _mm256_set1_ps(255.f);
  for (; k + 8 <= n; k += 8) {
    const __m256 scaled = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + k), vlo), vinv);
    const __m256 rounded = _mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i ints = _mm256_cvtps_epi32(_mm256_min_ps(rounded, top));  // 0..255
    const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(ints),
                                           _mm256_extracti128_si256(ints, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(u + k), _mm_packus_epi16(words, words));
  }
#endif
  for (; k < n; ++k) u[k] = static_cast<uint8_t>(std::min(255.f, std::nearbyint((x[k] - lo) * inv)));
}

// Per-row asymmetric 8-bit quantization of x (R, Din): x[r, k] ~ low[r] + sx[r] * u[r, k] with
// u in [0, 255] (zero padded to Kp).
void quantize_rows(const float* x, int64_t rows, int64_t din, int64_t kp, uint8_t* u, float* sx,
                   float* low) {
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * din;
      float lo, hi;
      row_range(xr, din, lo, hi);
      const float scale = hi > lo ? (hi - lo) / 255.f : 1.f;
      const float inv = 1.f / scale;
      uint8_t* ur = u + r * kp;
      quantize_row(xr, din, lo, inv, ur);
      for (int64_t k = din; k < kp; ++k) ur[k] = 0;
      sx[r] = scale;
      low[r] = lo;
    }
  });
}

#if defined(__AVX2__)
// Sums of 4 vectors' lanes -> (a, b, c, d).
inline __m128i hsum4(__m256i a, __m256i b, __m256i c, __m256i d) {
  __m256i ab = _mm256_hadd_epi32(a, b);
  __m256i cd = _mm256_hadd_epi32(c, d);
  __m256i abcd = _mm256_hadd_epi32(ab, cd);
  return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// u (unsigned, <= 255) x q (signed, |q| <= 63) -> int16 pair sums -> int32 sums of 4, added.
inline __m256i dot32(__m256i acc, __m256i u, __m256i q, __m256i ones) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, q), ones));
}

// How int32 products become outputs: y[r, n] = scale[n] * (sx[r] * acc + low[r] * sums[n])
// + bias[n].
struct Epilogue {
  const float* sx;
  const float* low;
  const float* scale;
  const int32_t* sums;
  const float* bias;  // may be null
  float* y;
  int64_t stride;  // of y's rows

  inline void store(int64_t r, int64_t n, int32_t acc) const {
    const float v = scale[n] * (sx[r] * static_cast<float>(acc) + low[r] * static_cast<float>(sums[n]));
    y[r * stride + n] = bias ? v + bias[n] : v;
  }
};

// Products of RB rows (from row r of u) and 4 columns: weight rows w[c] of output columns
// n[c], stored through `out`.
template <int RB>
inline void block4(const uint8_t* u, const int8_t* const w[4], const int64_t n[4], int64_t kp,
                   int64_t r, const Epilogue& out) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[RB][4];
  for (int i = 0; i < RB; ++i)
    for (int c = 0; c < 4; ++c) acc[i][c] = _mm256_setzero_si256();
  const uint8_t* x0 = u + r * kp;
  for (int64_t k = 0; k < kp; k += 32) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[0] + k));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[1] + k));
    const __m256i w2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[2] + k));
    const __m256i w3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[3] + k));
    for (int i = 0; i < RB; ++i) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x0 + i * kp + k));
      acc[i][0] = dot32(acc[i][0], x, w0, ones);
      acc[i][1] = dot32(acc[i][1], x, w1, ones);
      acc[i][2] = dot32(acc[i][2], x, w2, ones);
      acc[i][3] = dot32(acc[i][3], x, w3, ones);
    }
  }
  for (int i = 0; i < RB; ++i) {
    alignas(16) int32_t sums[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(sums),
                    hsum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    for (int c = 0; c < 4; ++c) out.store(r + i, n[c], sums[c]);
  }
}

inline int32_t dot_one(const uint8_t* u, const int8_t* q, int64_t kp) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  for (int64_t k = 0; k < kp; k += 32)
    acc = dot32(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u + k)),
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + k)), ones);
  return hsum(acc);
}
#else
inline int32_t dot_one(const uint8_t* u, const int8_t* q, int64_t kp) {
  int32_t s = 0;
  for (int64_t k = 0; k < kp; ++k) s += static_cast<int32_t>(u[k]) * static_cast<int32_t>(q[k]);
  return s;
}
#endif

// Outputs of rows [r0, r1) for the columns listed in cols[0..count) (weight rows of q).
void products(const uint8_t* u, int64_t r0, int64_t r1, const int8_t* q, const int64_t* cols,
              int64_t count, int64_t kp, const Epilogue& out) {
  int64_t j = 0;
#if defined(__AVX2__)
  for (; j + 4 <= count; j += 4) {
    const int64_t* n = cols + j;
    const int8_t* const w[4] = {q + n[0] * kp, q + n[1] * kp, q + n[2] * kp, q + n[3] * kp};
    int64_t r = r0;
    for (; r + 2 <= r1; r += 2) block4<2>(u, w, n, kp, r, out);
    for (; r < r1; ++r) block4<1>(u, w, n, kp, r, out);
  }
#endif
  for (; j < count; ++j)
    for (int64_t r = r0; r < r1; ++r)
      out.store(r, cols[j], dot_one(u + r * kp, q + cols[j] * kp, kp));
}

// y (R, N) = x (R, Din) @ W^T + b with W int8 (N, Kp), per-channel scales and column sums.
struct Int8Linear {
  const int8_t* q;
  const float* scale;
  const int32_t* sums;  // sum over k of q[n, k]
  const float* bias;    // may be null
  int64_t n, din, kp;

  static Int8Linear from(const at::Tensor& q, const at::Tensor& scale, const at::Tensor& sums,
                         const at::Tensor& bias, int64_t din) {
    TORCH_CHECK(q.scalar_type() == at::kChar && q.is_contiguous() && q.dim() == 2,
                "native step: int8 weights must be contiguous (N, Kp) int8");
    TORCH_CHECK(q.size(1) % kAlign == 0 && q.size(1) >= din, "native step: bad weight padding");
    TORCH_CHECK(sums.scalar_type() == at::kInt && sums.numel() == q.size(0),
                "native step: column sums must be int32 (N,)");
    return Int8Linear{q.data_ptr<int8_t>(), scale.data_ptr<float>(), sums.data_ptr<int32_t>(),
                      bias.numel() ? bias.data_ptr<float>() : nullptr, q.size(0), din, q.size(1)};
  }

  // x quantized row by row: u (R, Kp), sx and low (R).
  struct Rows {
    std::unique_ptr<uint8_t[]> u;
    std::unique_ptr<float[]> sx, low;
  };

  Rows quantize(const float* x, int64_t rows) const {
    Rows q8{std::unique_ptr<uint8_t[]>(new uint8_t[rows * kp]),
            std::unique_ptr<float[]>(new float[rows]), std::unique_ptr<float[]>(new float[rows])};
    quantize_rows(x, rows, din, kp, q8.u.get(), q8.sx.get(), q8.low.get());
    return q8;
  }

  // Only listed columns: the `beams` rows of sentence a take the columns ids[a * width ..]
  // (a -1 ends a list), written at their own column of y (row stride `stride`).
  void listed(const float* x, int64_t rows, int64_t beams, const int64_t* ids, int64_t width,
              float* y, int64_t stride) const {
    const Rows q8 = quantize(x, rows);
    const Epilogue out{q8.sx.get(), q8.low.get(), scale, sums, bias, y, stride};
    at::parallel_for(0, rows / beams, 1, [&](int64_t a0, int64_t a1) {
      for (int64_t a = a0; a < a1; ++a) {
        const int64_t* cols = ids + a * width;
        const int64_t count = std::find(cols, cols + width, int64_t{-1}) - cols;
        products(q8.u.get(), a * beams, (a + 1) * beams, q, cols, count, kp, out);
      }
    });
  }

  void operator()(const float* x, int64_t rows, float* y) const {
    const Rows q8 = quantize(x, rows);
    const std::unique_ptr<uint8_t[]>& u = q8.u;
    const Epilogue out{q8.sx.get(), q8.low.get(), scale, sums, bias, y, n};
    // Split the columns across threads when the layer is large enough to pay for it.
    const int64_t blocks = (n + 3) / 4;
    const int64_t grain = rows * n * kp >= (1 << 19) ? 8 : blocks;
    at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
      const int64_t n0 = b0 * 4, n1 = std::min(n, b1 * 4);
      int64_t cols[64];
      for (int64_t c0 = n0; c0 < n1; c0 += 64) {  // in runs of up to 64 consecutive columns
        const int64_t count = std::min<int64_t>(64, n1 - c0);
        for (int64_t c = 0; c < count; ++c) cols[c] = c0 + c;
        products(u.get(), 0, rows, q, cols, count, kp, out);
      }
    });
  }
};

}  // namespace int8_kernel
