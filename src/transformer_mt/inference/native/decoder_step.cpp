// One cached decoder step of an int8 Transformer in a single call: no Python, no per-op
// dispatch. transformer_mt/inference/native/step.py prepares the weights and calls it; the
// Python step (model/layers.py) is the reference it is tested against.
//
// Shape letters: A sentences, N beams per sentence, R = A * N rows, H heads, K head width,
// D model width (H * K), F feed-forward width, V target vocabulary, S source length,
// C cache capacity (positions), P position being decoded.
//
// The int8 linear layers are int8_linear.h's, attention over the cache attention.h's; LayerNorm
// and the activations are written here in plain loops. The search's top-k (row_top_k.h) is
// registered in the same library.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "attention.h"
#include "int8_linear.h"
#include "log_softmax.h"
#include "row_top_k.h"
#include "vector_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {

using attention_kernel::cross_attention;
using attention_kernel::self_attention;
using attention_kernel::Shapes;
using int8_kernel::Int8Linear;

// x[0..d) = (x - mean) / sqrt(variance + eps) * w + b (the variance about the mean).
void layer_norm_row(float* x, int64_t d, const float* w, const float* b, float eps) {
  int64_t k = 0;
  float total = 0.f;
#if defined(__AVX2__)
  __m256 sum = _mm256_setzero_ps();
  for (; k + 8 <= d; k += 8) sum = _mm256_add_ps(sum, _mm256_loadu_ps(x + k));
  total = vector_math::lane_sum(sum);
#endif
  for (; k < d; ++k) total += x[k];
  const float mean = total / static_cast<float>(d);
  float squares = 0.f;
  k = 0;
#if defined(__AVX2__)
  const __m256 centre = _mm256_set1_ps(mean);
  __m256 square_sum = _mm256_setzero_ps();
  for (; k + 8 <= d; k += 8) {
    const __m256 c = _mm256_sub_ps(_mm256_loadu_ps(x + k), centre);
    square_sum = _mm256_fmadd_ps(c, c, square_sum);
  }
  squares = vector_math::lane_sum(square_sum);
#endif
  for (; k < d; ++k) squares += (x[k] - mean) * (x[k] - mean);
  const float inv = 1.f / std::sqrt(squares / static_cast<float>(d) + eps);
  k = 0;
#if defined(__AVX2__)
  const __m256 scale = _mm256_set1_ps(inv);
  for (; k + 8 <= d; k += 8) {
    const __m256 normed = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + k), centre), scale);
    const __m256 weight = _mm256_loadu_ps(w + k), shift = _mm256_loadu_ps(b + k);
    _mm256_storeu_ps(x + k, _mm256_fmadd_ps(normed, weight, shift));
  }
#endif
  for (; k < d; ++k) x[k] = (x[k] - mean) * inv * w[k] + b[k];
}

void layer_norm(float* x, int64_t rows, int64_t d, const float* w, const float* b, float eps) {
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) layer_norm_row(x + r * d, d, w, b, eps);
  });
}

enum Activation : int64_t { kRelu = 0, kGelu = 1, kSilu = 2 };

void activate(float* x, int64_t count, int64_t kind) {
  for (int64_t i = 0; i < count; ++i) {
    float v = x[i];
    if (kind == kRelu) {
      x[i] = v > 0.f ? v : 0.f;
    } else if (kind == kGelu) {
      x[i] = 0.5f * v * (1.f + std::erf(v * 0.70710678118654752f));
    } else {
      x[i] = v / (1.f + std::exp(-v));
    }
  }
}

constexpr int64_t kPerLayer = 30;  // tensors per decoder layer in `params`

// x (R, D) += sublayer output, with LayerNorm before (pre-norm) or after (post-norm).
struct Norm {
  const float* w;
  const float* b;
};

Norm norm_at(const std::vector<at::Tensor>& params, int64_t i) {
  return Norm{params[i].data_ptr<float>(), params[i + 1].data_ptr<float>()};
}

// The linear layer at params[i .. i + 4); `rows`: its weight in rows as well (for listed columns).
Int8Linear linear_at(const std::vector<at::Tensor>& params, int64_t i, int64_t din,
                     const at::Tensor& rows = at::Tensor()) {
  return Int8Linear::from(params[i], params[i + 1], params[i + 2], params[i + 3], din, rows);
}

// What a step needs besides the tensors.
struct StepOptions {
  int64_t position, beams, heads, activation;
  bool pre_norm, log_probs;
  float embed_scale, eps;
};

// The tensors of a run of whole sentences (views, sentence-major: a sentence's rows, cache
// entries and lists are contiguous); undefined valid / ancestors / vocabulary: none.
struct StepTensors {
  at::Tensor tokens;  // (R,)
  std::vector<at::Tensor> self_keys, self_values, cross_keys, cross_values;
  at::Tensor valid, ancestors, vocabulary;
  at::Tensor out;  // (R, V): logits, or log-probs with log_probs (listed: -inf off the list)
};

StepTensors sentence_run(const StepTensors& all, int64_t a0, int64_t a1, int64_t beams) {
  auto rows = [&](const at::Tensor& t, int64_t per) {
    return t.defined() ? t.narrow(0, a0 * per, (a1 - a0) * per) : t;
  };
  auto each = [&](const std::vector<at::Tensor>& list) {
    std::vector<at::Tensor> out;
    for (const at::Tensor& t : list) out.push_back(rows(t, 1));
    return out;
  };
  return StepTensors{rows(all.tokens, beams), each(all.self_keys), each(all.self_values),
                     each(all.cross_keys),    each(all.cross_values), rows(all.valid, 1),
                     rows(all.ancestors, 1),  rows(all.vocabulary, 1), rows(all.out, beams)};
}

// The step for the sentences of `t` (every row of them), writing t.out.
void step_rows(const StepTensors& t, const std::vector<at::Tensor>& params,
               const StepOptions& o) {
  const int64_t layers = static_cast<int64_t>(t.self_keys.size());
  const at::Tensor& embedding = params[0];
  const at::Tensor& positions = params[1];
  const int64_t rows = t.tokens.size(0), d = embedding.size(1), vocab = embedding.size(0);
  const int64_t beams = o.beams, heads = o.heads, position = o.position;
  const bool pre_norm = o.pre_norm;
  const int64_t sentences = rows / beams;
  Shapes s{sentences, beams, rows, heads, d / heads, d};
  const int64_t source_length = t.cross_keys[0].size(2);
  const int64_t capacity = t.self_keys[0].size(2);
  const float fe = o.eps;

  std::vector<float> x(static_cast<size_t>(rows * d)), h(static_cast<size_t>(rows * d));
  std::vector<float> qkv(static_cast<size_t>(rows * 3 * d)), ctx(static_cast<size_t>(rows * d));
  const int64_t ff = params[2 + 21].numel();  // the expanding layer's scales: (F,)
  std::vector<float> hidden(static_cast<size_t>(rows * ff));

  const int64_t* tok = t.tokens.data_ptr<int64_t>();
  const float* emb = embedding.data_ptr<float>();
  const float* pos = positions.data_ptr<float>() + position * d;
  const float scale = o.embed_scale;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < d; ++k) x[r * d + k] = emb[tok[r] * d + k] * scale + pos[k];

  const bool* valid = t.valid.defined() ? t.valid.data_ptr<bool>() : nullptr;
  const int64_t* anc = t.ancestors.defined() ? t.ancestors.data_ptr<int64_t>() : nullptr;
  const int64_t anc_capacity = anc ? t.ancestors.size(2) : 0;

  // Runs a sub-layer on x with the residual and the LayerNorm where the model has it.
  auto residual = [&](Norm norm, auto&& sublayer) {
    const float* in = x.data();
    if (pre_norm) {
      std::copy(x.begin(), x.end(), h.begin());
      layer_norm(h.data(), rows, d, norm.w, norm.b, fe);
      in = h.data();
    }
    sublayer(in, ctx.data());  // writes its (R, D) output to ctx
    for (int64_t i = 0; i < rows * d; ++i) x[i] += ctx[i];
    if (!pre_norm) layer_norm(x.data(), rows, d, norm.w, norm.b, fe);
  };

  std::vector<float> attended(static_cast<size_t>(rows * d));
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t base = 2 + l * kPerLayer;
    residual(norm_at(params, base + 8), [&](const float* in, float* out) {
      linear_at(params, base, d)(in, rows, qkv.data());
      if (t.self_keys[l].scalar_type() == at::kHalf)
        self_attention(s, qkv.data(), t.self_keys[l].data_ptr<c10::Half>(),
                       t.self_values[l].data_ptr<c10::Half>(), capacity, position, anc,
                       anc_capacity, attended.data());
      else
        self_attention(s, qkv.data(), t.self_keys[l].data_ptr<float>(),
                       t.self_values[l].data_ptr<float>(), capacity, position, anc,
                       anc_capacity, attended.data());
      linear_at(params, base + 4, d)(attended.data(), rows, out);
    });
    residual(norm_at(params, base + 18), [&](const float* in, float* out) {
      linear_at(params, base + 10, d)(in, rows, qkv.data());  // queries only: (R, D)
      if (t.cross_keys[l].scalar_type() == at::kHalf)
        cross_attention(s, qkv.data(), t.cross_keys[l].data_ptr<c10::Half>(),
                        t.cross_values[l].data_ptr<c10::Half>(), source_length, valid,
                        attended.data());
      else
        cross_attention(s, qkv.data(), t.cross_keys[l].data_ptr<float>(),
                        t.cross_values[l].data_ptr<float>(), source_length, valid,
                        attended.data());
      linear_at(params, base + 14, d)(attended.data(), rows, out);
    });
    residual(norm_at(params, base + 28), [&](const float* in, float* out) {
      linear_at(params, base + 20, d)(in, rows, hidden.data());
      activate(hidden.data(), rows * ff, o.activation);
      linear_at(params, base + 24, ff)(hidden.data(), rows, out);
    });
  }
  const int64_t tail = 2 + layers * kPerLayer;
  if (pre_norm) layer_norm(x.data(), rows, d, params[tail].data_ptr<float>(),
                           params[tail + 1].data_ptr<float>(), fe);
  float* y = t.out.data_ptr<float>();
  if (!t.vocabulary.defined()) {
    linear_at(params, tail + 2, d)(x.data(), rows, y);
    if (o.log_probs) log_softmax_kernel::log_softmax_rows(y, rows, vocab);
    return;
  }
  // A shortlist: each sentence scores only its own candidates; every other token is -inf.
  std::fill_n(y, rows * vocab, -INFINITY);
  const int64_t width = t.vocabulary.size(1);
  const int64_t* ids = t.vocabulary.data_ptr<int64_t>();
  linear_at(params, tail + 2, d, params[tail + 6]).listed(x.data(), rows, beams, ids, width, y,
                                                         vocab);
  if (o.log_probs) log_softmax_kernel::log_softmax_listed(y, rows, vocab, beams, ids, width);
}

at::Tensor defined_or_empty(const c10::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? *t : at::Tensor();
}

}  // namespace

// tokens (R,) int64 -> logits (R, V), or log-probabilities with `log_probs`. params: embedding (V, D), positions (P, D), then per
// layer: qkv(4), self_out(4), norm1(2), cross_q(4), cross_out(4), norm2(2), expand(4),
// contract(4), norm3(2) [a linear = int8 weight packed in panels, scale, column sums, bias; a
// norm = weight, bias]; then the final norm (2; empty tensors for post-norm), the output layer
// (4) and its int8 weight in rows (N, Kp), for shortlists. self_keys/self_values: (A, H, C, N, K) per layer;
// cross_keys/cross_values (A, H, S, K); source_valid (A, S) bool or undefined (no padding);
// ancestors (A, N, C') int64 or undefined (one beam); vocabulary (A, W) int64 or undefined:
// the only tokens each sentence scores (a shortlist; each row ends with -1 padding or at W).
// chunks: the sentences are split into this many runs, decoded side by side, each on one
// thread (one fork per step instead of one per operation; rows are independent, so the
// result is the same); 1: one run, each operation spread over the threads.
at::Tensor decoder_step(const at::Tensor& tokens, std::vector<at::Tensor> params,
                        std::vector<at::Tensor> self_keys, std::vector<at::Tensor> self_values,
                        std::vector<at::Tensor> cross_keys,
                        std::vector<at::Tensor> cross_values,
                        const c10::optional<at::Tensor>& source_valid,
                        const c10::optional<at::Tensor>& ancestors,
                        const c10::optional<at::Tensor>& vocabulary, int64_t position,
                        int64_t beams, int64_t heads, bool pre_norm, int64_t activation,
                        double embed_scale, double eps, bool log_probs, int64_t chunks) {
  const int64_t layers = static_cast<int64_t>(self_keys.size());
  TORCH_CHECK(static_cast<int64_t>(params.size()) == 2 + layers * kPerLayer + 7,
              "native step: wrong number of parameters");
  const int64_t rows = tokens.size(0), vocab = params[0].size(0);
  TORCH_CHECK(position < params[1].size(0), "native step: position beyond the table");
  TORCH_CHECK(position < self_keys[0].size(2), "native step: no room in the cache");
  TORCH_CHECK(tokens.is_contiguous(), "native step: tokens must be contiguous");
  const int64_t sentences = rows / beams;
  const StepOptions o{position, beams, heads, activation, pre_norm, log_probs,
                      static_cast<float>(embed_scale), static_cast<float>(eps)};
  const StepTensors all{tokens,
                        self_keys,
                        self_values,
                        cross_keys,
                        cross_values,
                        defined_or_empty(source_valid),
                        defined_or_empty(ancestors),
                        defined_or_empty(vocabulary),
                        at::empty({rows, vocab}, at::TensorOptions().dtype(at::kFloat))};
  const int64_t runs = std::max<int64_t>(1, std::min(chunks, sentences));
  if (runs == 1) {
    step_rows(all, params, o);
  } else {
    // The views are made here, on the calling thread (its inference mode); threads only
    // read and write through them.
    std::vector<StepTensors> parts;
    for (int64_t i = 0; i < runs; ++i)
      parts.push_back(sentence_run(all, i * sentences / runs, (i + 1) * sentences / runs, beams));
    at::parallel_for(0, runs, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) step_rows(parts[i], params, o);
    });
  }
  return all.out;
}

// y (R, N) = x (R, Din) @ dequantized W^T + bias, W packed in panels: the int8 kernel alone
// (the encoder's linear layers, tests).
at::Tensor int8_linear(const at::Tensor& x, const at::Tensor& packed, const at::Tensor& scale,
                       const at::Tensor& sums, const at::Tensor& bias) {
  TORCH_CHECK(x.scalar_type() == at::kFloat && x.dim() == 2, "int8_linear: x must be (R, D) fp32");
  at::Tensor xc = x.contiguous();
  at::Tensor y = at::empty({x.size(0), scale.numel()}, x.options());
  Int8Linear::from(packed, scale, sums, bias, x.size(1))(xc.data_ptr<float>(), x.size(0),
                                                         y.data_ptr<float>());
  return y;
}

TORCH_LIBRARY(transformer_mt_native, m) {
  m.def(
      "decoder_step(Tensor tokens, Tensor[] params, Tensor[] self_keys, Tensor[] self_values, "
      "Tensor[] cross_keys, Tensor[] cross_values, Tensor? source_valid, Tensor? ancestors, "
      "Tensor? vocabulary, int position, int beams, int heads, bool pre_norm, int activation, float embed_scale, "
      "float eps, bool log_probs, int chunks) -> Tensor",
      &decoder_step);
  m.def("int8_linear(Tensor x, Tensor packed, Tensor scale, Tensor sums, Tensor bias) -> Tensor", &int8_linear);
  m.def("top_k(Tensor scores, int k) -> (Tensor, Tensor)", &row_top_k::top_k);
}
