// The k highest scores of each row, best first, equal scores in index order (a stable sort's
// order; torch.topk leaves the order of ties unspecified, and torch.argmax also takes the first
// maximum). One pass per row: most scores fail the compare with the k-th best so far, 8 at a
// time on AVX2; the few that pass are inserted into a sorted list of k. Included by
// decoder_step.cpp only.
//
// Rows must hold no NaN (they are log-probabilities; torch.topk would rank NaN first).

#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace row_top_k {

// Into the sorted (best first) values[0..count) and ids: score x of id i, after every equal
// score already there (ids arrive in increasing order). count < capacity: it grows by one;
// else the last entry drops out (only called when x beats it).
inline void insert(float x, int64_t i, float* values, int64_t* ids, int64_t& count,
                   int64_t capacity) {
  int64_t p = count < capacity ? count++ : capacity - 1;
  for (; p > 0 && values[p - 1] < x; --p) {
    values[p] = values[p - 1];
    ids[p] = ids[p - 1];
  }
  values[p] = x;
  ids[p] = i;
}

// Row x (width n, n >= k) -> values (k), ids (k).
inline void top_k_row(const float* x, int64_t n, int64_t k, float* values, int64_t* ids) {
  int64_t count = 0;
  for (int64_t i = 0; i < k; ++i) insert(x[i], i, values, ids, count, k);
  int64_t i = k;
#if defined(__AVX2__)
  for (; i + 8 <= n; i += 8) {
    const __m256 beats = _mm256_cmp_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(values[k - 1]),
                                       _CMP_GT_OQ);
    int mask = _mm256_movemask_ps(beats);
    while (mask) {  // each passing score in index order (the k-th best may rise meanwhile)
      const int lane = __builtin_ctz(mask);
      mask &= mask - 1;
      if (x[i + lane] > values[k - 1]) insert(x[i + lane], i + lane, values, ids, count, k);
    }
  }
#endif
  for (; i < n; ++i)
    if (x[i] > values[k - 1]) insert(x[i], i, values, ids, count, k);
}

// scores (N, W) fp32 -> values (N, k) fp32, ids (N, k) int64.
inline std::tuple<at::Tensor, at::Tensor> top_k(const at::Tensor& scores, int64_t k) {
  TORCH_CHECK(scores.scalar_type() == at::kFloat && scores.dim() == 2 && !scores.is_cuda(),
              "top_k: scores must be (N, W) fp32 on the CPU");
  TORCH_CHECK(k >= 1 && k <= scores.size(1), "top_k: need 1 <= k <= W");
  const at::Tensor x = scores.contiguous();
  const int64_t rows = x.size(0), width = x.size(1);
  at::Tensor values = at::empty({rows, k}, x.options());
  at::Tensor ids = at::empty({rows, k}, x.options().dtype(at::kLong));
  const float* in = x.data_ptr<float>();
  float* out = values.data_ptr<float>();
  int64_t* out_ids = ids.data_ptr<int64_t>();
  // Threads only for enough scores to pay for waking them.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(width, 1));
  at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      top_k_row(in + r * width, width, k, out + r * k, out_ids + r * k);
  });
  return {values, ids};
}

}  // namespace row_top_k
