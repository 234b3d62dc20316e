// The int8 linear layer of the native decoder step: exact int32 products of 7-bit inputs
// (int8_rows.h quantizes them, u in [0, 127]) and 7-bit per-channel weights (q in [-63, 63]),
// AVX2 where compiled for it, portable C++ otherwise. Included by decoder_step.cpp only.
//
// On AVX2, maddubs multiplies u (unsigned) by q (signed) into int16 pair sums of at most
// 2 * 127 * 63 = 16,002 in size, so two of them add in int16 without saturating (32,004): the
// dense product widens to int32 once per 8 inputs instead of once per 4, a quarter fewer
// multiply instructions (measured: +25% on the products, test BLEU as with 8-bit inputs).
//
// Dense layers keep their weights in panels of 32 output columns: block b of 8 columns holds,
// for each group g of 4 inputs, one 32-byte vector packed[b][g][c][j] = q[8b + c, 4g + j]. A
// row's 4 inputs are broadcast against it, so each int32 lane sums one column: no horizontal
// sums, and the epilogue is 8 columns wide. A shortlist's output layer also keeps the plain rows
// (N, Kp), read one listed column at a time.

#pragma once

#include "int8_rows.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace int8_kernel {

constexpr int64_t kBlock = 8;   // output columns per packed block (one int32 lane each)
constexpr int64_t kPanel = 32;  // output columns per panel: packed weights have whole panels
constexpr int64_t kGroup = 4;   // inputs per packed group

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

// u (unsigned, <= 127) x q (signed, |q| <= 63) -> int16 pair sums -> int32 sums of 4, added.
inline __m256i dot32(__m256i acc, __m256i u, __m256i q, __m256i ones) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, q), ones));
}

// Listed columns (a shortlist's), from weights in rows (N, Kp): products of RB rows (from row r
// of u) and 4 columns, weight rows w[c] of output columns n[c], stored through `out`.
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
inline void listed_products(const uint8_t* u, int64_t r0, int64_t r1, const int8_t* q,
                            const int64_t* cols, int64_t count, int64_t kp, const Epilogue& out) {
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

// The packed weights of one panel start at `panel`; its block c at panel + c * groups * 32.
#if defined(__AVX2__)
// Products of RB rows (from row r of u) and the panel's 32 columns (from column col).
template <int RB>
inline void panel_tile(const uint8_t* u, int64_t kp, const int8_t* panel, int64_t r, int64_t col,
                       const Epilogue& out) {
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t groups = kp / kGroup;
  __m256i acc[RB][4];
  for (int i = 0; i < RB; ++i)
    for (int c = 0; c < 4; ++c) acc[i][c] = _mm256_setzero_si256();
  const uint8_t* x0 = u + r * kp;
  for (int64_t g = 0; g < groups; g += 2) {  // groups is even: Kp is a multiple of 32
    __m256i w[4], v[4];
    for (int c = 0; c < 4; ++c) {
      w[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + (c * groups + g) * 32));
      v[c] = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(panel + (c * groups + g + 1) * 32));
    }
    for (int i = 0; i < RB; ++i) {  // two groups' pair sums added in int16, then widened
      int32_t four[2];  // this row's inputs 4g .. 4g + 7
      std::memcpy(four, x0 + i * kp + g * kGroup, sizeof four);
      const __m256i x = _mm256_set1_epi32(four[0]), z = _mm256_set1_epi32(four[1]);
      for (int c = 0; c < 4; ++c)
        acc[i][c] = _mm256_add_epi32(
            acc[i][c], _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x, w[c]),
                                                          _mm256_maddubs_epi16(z, v[c])),
                                         ones));
    }
  }
  for (int i = 0; i < RB; ++i)
    for (int c = 0; c < 4; ++c) out.store8(r + i, col + c * kBlock, acc[i][c]);
}
#endif

// All rows [0, rows) times panel p of the packed weights.
inline void panel_products(const uint8_t* u, int64_t rows, int64_t kp, const int8_t* packed,
                           int64_t p, const Epilogue& out) {
  const int8_t* panel = packed + p * kPanel * kp;
  const int64_t col = p * kPanel;
#if defined(__AVX2__)
  // While this panel's rows run, the next panel is fetched, a share per tile: a panel is read
  // from memory once and then from L1 by every row, so its first reads would otherwise wait.
  const int64_t bytes = kPanel * kp, tiles = (rows + 1) / 2;
  const int64_t share = ((bytes + tiles - 1) / tiles + 63) / 64 * 64;
  const char* next = reinterpret_cast<const char*>(panel + bytes);
  const bool last = col + kPanel >= out.n;
  int64_t r = 0, fetched = 0;
  auto prefetch = [&]() {
    if (last) return;
    for (const int64_t end = std::min(bytes, fetched + share); fetched < end; fetched += 64)
      _mm_prefetch(next + fetched, _MM_HINT_T0);
  };
  for (; r + 2 <= rows; r += 2) {
    prefetch();
    panel_tile<2>(u, kp, panel, r, col, out);
  }
  for (; r < rows; ++r) {
    prefetch();
    panel_tile<1>(u, kp, panel, r, col, out);
  }
#else
  const int64_t groups = kp / kGroup;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < kPanel && col + c < out.n; ++c) {
      const int8_t* block = panel + (c / kBlock) * groups * 32 + (c % kBlock) * kGroup;
      int32_t acc = 0;
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t j = 0; j < kGroup; ++j)
          acc += static_cast<int32_t>(u[r * kp + g * kGroup + j]) * block[g * 32 + j];
      out.store(r, col + c, acc);
    }
#endif
}

// y (R, N) = x (R, Din) @ W^T + b with W int8 per output channel: panels (N', Kp) for dense
// products (N' = N rounded up to whole panels), rows (N, Kp) for listed columns only.
struct Int8Linear {
  const int8_t* packed;  // (N' / 8, Kp / 4, 8, 4)
  const int8_t* rows;    // (N, Kp), or null: no listed products
  const float* scale;
  const int32_t* sums;  // sum over k of q[n, k]
  const float* bias;    // may be null
  int64_t n, din, kp;

  static Int8Linear from(const at::Tensor& packed, const at::Tensor& scale,
                         const at::Tensor& sums, const at::Tensor& bias, int64_t din,
                         const at::Tensor& rows = at::Tensor()) {
    TORCH_CHECK(packed.scalar_type() == at::kChar && packed.is_contiguous() && packed.dim() == 4 &&
                    packed.size(2) == kBlock && packed.size(3) == kGroup,
                "native step: int8 weights must be packed contiguous (N' / 8, Kp / 4, 8, 4) int8");
    const int64_t n = scale.numel(), kp = packed.size(1) * kGroup;
    TORCH_CHECK(packed.size(0) * kBlock % kPanel == 0 && packed.size(0) * kBlock >= n,
                "native step: packed weights must hold whole panels of 32 columns");
    TORCH_CHECK(kp % kAlign == 0 && kp >= din, "native step: bad weight padding");
    TORCH_CHECK(sums.scalar_type() == at::kInt && sums.numel() == n,
                "native step: column sums must be int32 (N,)");
    TORCH_CHECK(!rows.defined() || (rows.scalar_type() == at::kChar && rows.is_contiguous() &&
                                    rows.size(0) == n && rows.size(1) == kp),
                "native step: listed weights must be contiguous (N, Kp) int8");
    return Int8Linear{packed.data_ptr<int8_t>(),
                      rows.defined() ? rows.data_ptr<int8_t>() : nullptr,
                      scale.data_ptr<float>(),
                      sums.data_ptr<int32_t>(),
                      bias.numel() ? bias.data_ptr<float>() : nullptr,
                      n,
                      din,
                      kp};
  }

  // x quantized row by row: u (R, Kp), sx and low (R).
  struct Rows {
    std::unique_ptr<uint8_t[]> u;
    std::unique_ptr<float[]> sx, low;
  };

  Rows quantize(const float* x, int64_t count) const {
    Rows q8{std::unique_ptr<uint8_t[]>(new uint8_t[count * kp]),
            std::unique_ptr<float[]>(new float[count]), std::unique_ptr<float[]>(new float[count])};
    quantize_rows(x, count, din, kp, q8.u.get(), q8.sx.get(), q8.low.get());
    return q8;
  }

  // Only listed columns: the `beams` rows of sentence a take the columns ids[a * width ..]
  // (a -1 ends a list), written at their own column of y (row stride `stride`).
  void listed(const float* x, int64_t count, int64_t beams, const int64_t* ids, int64_t width,
              float* y, int64_t stride) const {
    TORCH_CHECK(rows != nullptr, "native step: listed products need the weights in rows");
    const Rows q8 = quantize(x, count);
    const Epilogue out{q8.sx.get(), q8.low.get(), scale, sums, bias, y, stride, n};
    at::parallel_for(0, count / beams, 1, [&](int64_t a0, int64_t a1) {
      for (int64_t a = a0; a < a1; ++a) {
        const int64_t* cols = ids + a * width;
        const int64_t size = std::find(cols, cols + width, int64_t{-1}) - cols;
        listed_products(q8.u.get(), a * beams, (a + 1) * beams, rows, cols, size, kp, out);
      }
    });
  }

  void operator()(const float* x, int64_t count, float* y) const {
    const Rows q8 = quantize(x, count);
    const Epilogue out{q8.sx.get(), q8.low.get(), scale, sums, bias, y, n, n};
    // Split the panels across threads when the layer is large enough to pay for it.
    const int64_t panels = (n + kPanel - 1) / kPanel;
    const int64_t grain = count * n * kp >= (1 << 19) ? 1 : panels;
    at::parallel_for(0, panels, grain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) panel_products(q8.u.get(), count, kp, packed, p, out);
    });
  }
};

}  // namespace int8_kernel
