#include "runtime/llama_cuda.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/cpu/dequantize.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine {
namespace {

// Block size of the device cache: any size gives the same values.
constexpr size_t kBlockTokens = 16;
// What the runtime's "insufficient driver" and "no device" answers both come to.
constexpr const char* kNoDevice =
    "no CUDA device (no GPU, no NVIDIA driver, or a driver older than this CUDA runtime)";
// Left free on the device beside the model: the CUDA context, kernels and fragmentation.
constexpr size_t kDeviceHeadroom = size_t{512} << 20;

void check(const cuda::Status& s, std::string_view what) {
  if (!s.ok()) throw EngineError(std::string(what) + ": " + s.error);
}

bool weight_type(TensorType t, cuda::WeightType& out) {
  switch (t) {
    case TensorType::f32:
      out = cuda::WeightType::f32;
      return true;
    case TensorType::f16:
      out = cuda::WeightType::f16;
      return true;
    case TensorType::bf16:
      out = cuda::WeightType::bf16;
      return true;
    case TensorType::q8_0:
      out = cuda::WeightType::q8_0;
      return true;
    case TensorType::q4_0:
      out = cuda::WeightType::q4_0;
      return true;
    case TensorType::q4_k:
      out = cuda::WeightType::q4_k;
      return true;
    case TensorType::q6_k:
      out = cuda::WeightType::q6_k;
      return true;
    default:
      return false;
  }
}

std::vector<float> inverse_frequencies(const ModelConfig& c, float base, float scale,
                                       const std::vector<float>& factors) {
  std::vector<float> inv(c.rope_dim / 2);
  for (size_t i = 0; i < inv.size(); ++i) {
    inv[i] = scale * std::pow(base, -static_cast<float>(2 * i) / static_cast<float>(c.rope_dim));
    if (!factors.empty()) inv[i] /= factors[i];
  }
  return inv;
}

size_t mib(size_t bytes) { return bytes >> 20; }

// Positions rounded up to whole blocks.
size_t cache_blocks(size_t positions) {
  return std::max<size_t>(1, (positions + kBlockTokens - 1) / kBlockTokens);
}

}  // namespace

CudaDeviceSummary describe_cuda_device() {
  if (!cuda::compiled()) {
    return {false,
            "this build has no CUDA support (the CUDA toolkit was not found when it was "
            "configured)"};
  }
  std::vector<cuda::DeviceInfo> devices;
  if (cuda::Status s = cuda::list_devices(devices); !s.ok()) return {false, s.error};
  if (devices.empty()) return {false, kNoDevice};
  const cuda::DeviceInfo& d = devices.front();
  char text[256];
  std::snprintf(text, sizeof text, "%s, sm_%d%d, %.1f GiB free of %.1f GiB", d.name.c_str(),
                d.major, d.minor, static_cast<double>(d.free_bytes) / (1 << 30),
                static_cast<double>(d.total_bytes) / (1 << 30));
  return {true, text};
}

namespace {

// Device bytes for weights, `kv_positions` positions of F16 keys and values, the step buffers and
// the attention scratch for spans of max_positions.
// Layer l's tensors are named "blk.<l>."; the others are the embedding, output and its norm.
bool on_device(const std::string& name, size_t gpu_layers, bool full) {
  if (!name.starts_with("blk.")) return full;
  return std::strtoul(name.c_str() + 4, nullptr, 10) < gpu_layers;
}

size_t bytes_needed(const Model& model, size_t kv_positions, size_t max_positions,
                    size_t max_step_tokens, size_t gpu_layers) {
  const ModelConfig& c = model.config();
  const bool full = gpu_layers >= c.n_layers;
  gpu_layers = std::min<size_t>(gpu_layers, c.n_layers);
  size_t bytes = 0;
  if (model.file() != nullptr) {
    for (const GgufTensor& t : model.file()->tensors()) {
      if (!on_device(t.name, gpu_layers, full)) continue;
      // Matrices go as stored; vectors as F32.
      bytes += t.shape.size() == 2 ? t.n_bytes : t.n_elements * sizeof(float);
    }
  }
  const size_t kv_width = size_t{c.n_kv_heads} * c.head_dim;
  const size_t q_width = size_t{c.n_heads} * c.head_dim;
  bytes += kv_positions * gpu_layers * 2 * kv_width * 2;
  const size_t widths = 2 * c.dim + 2 * q_width + 2 * kv_width + 2 * c.ffn_dim;
  bytes += max_step_tokens * widths * sizeof(float);
  bytes += max_step_tokens * c.n_heads * max_positions * sizeof(float);  // attention scores
  bytes += (c.dim + c.n_vocab) * sizeof(float);
  return bytes;
}

}  // namespace

size_t LlamaCuda::device_bytes_needed(const Model& model, size_t max_positions,
                                      size_t max_step_tokens, size_t gpu_layers) {
  return bytes_needed(model, cache_blocks(max_positions) * kBlockTokens, max_positions,
                      max_step_tokens, gpu_layers);
}

LlamaCuda::LlamaCuda(const Model& model, size_t max_positions, int device, size_t max_step_tokens,
                     size_t gpu_layers)
    : model_(model),
      c_(model.config()),
      max_positions_(max_positions),
      max_step_tokens_(max_step_tokens),
      block_tokens_(kBlockTokens),
      gpu_layers_(std::min<size_t>(gpu_layers, model.config().n_layers)),
      full_(gpu_layers_ == model.config().n_layers) {
  if (gpu_layers_ == 0) throw EngineError("the CUDA pass needs at least one GPU layer");
  const size_t blocks = cache_blocks(max_positions);
  own_seq_.blocks.resize(blocks);
  for (size_t i = 0; i < blocks; ++i) own_seq_.blocks[i] = static_cast<BlockId>(i);
  init(device, blocks);
}

LlamaCuda::LlamaCuda(const Model& model, KvCache& cache, size_t max_step_tokens,
                     size_t max_positions, int device)
    : model_(model),
      c_(model.config()),
      max_positions_(max_positions),
      max_step_tokens_(max_step_tokens),
      block_tokens_(cache.block_tokens()),
      gpu_layers_(model.config().n_layers),
      cache_(&cache) {
  if (cache.type() != KvCacheType::f16) throw EngineError("the CUDA pass keeps an F16 KV cache");
  if (cache.n_layers() != c_.n_layers || cache.kv_width() != size_t{c_.n_kv_heads} * c_.head_dim) {
    throw EngineError("the KV cache was made for another model shape");
  }
  init(device, cache.total_blocks());
}

void LlamaCuda::init(int device, size_t blocks) {
  if (model_.file() == nullptr) throw EngineError("the CUDA pass needs a GGUF model");
  if (max_positions_ == 0 || max_step_tokens_ == 0) {
    throw EngineError("the CUDA pass needs max_positions and max_step_tokens above 0");
  }
  if (!cuda::compiled()) throw EngineError("--device cuda: " + describe_cuda_device().text);
  std::vector<cuda::DeviceInfo> devices;
  check(cuda::list_devices(devices), "listing CUDA devices");
  if (devices.empty()) throw EngineError(std::string("--device cuda: ") + kNoDevice);
  if (device < 0 || static_cast<size_t>(device) >= devices.size()) {
    throw EngineError("--device cuda: there is no CUDA device " + std::to_string(device));
  }
  device_ = device;
  check(cuda::set_device(device), "selecting the CUDA device");
  const cuda::DeviceInfo& info = devices[static_cast<size_t>(device)];
  // The budget, before anything is uploaded.
  kv_blocks_ = blocks;
  const size_t needed =
      bytes_needed(model_, blocks * block_tokens_, max_positions_, max_step_tokens_, gpu_layers_);
  if (needed + kDeviceHeadroom > info.free_bytes) {
    throw EngineError("the model needs " + std::to_string(mib(needed)) +
                      " MiB of device memory (KV cache and step buffers included) plus " +
                      std::to_string(mib(kDeviceHeadroom)) + " MiB headroom, but " + info.name +
                      " has " + std::to_string(mib(info.free_bytes)) + " MiB free");
  }
  const size_t q_width = size_t{c_.n_heads} * c_.head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * c_.head_dim;
  if (full_) {
    token_embd_ = upload_matrix("token_embd.weight", c_.n_vocab, c_.dim);
    output_is_embd_ = c_.tied_output;
    if (!c_.tied_output) output_ = upload_matrix("output.weight", c_.n_vocab, c_.dim);
    output_norm_ = upload_vector("output_norm.weight", c_.dim);
  }
  for (size_t l = 0; l < gpu_layers_; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    Layer layer;
    layer.wq = upload_matrix(b + "attn_q.weight", q_width, c_.dim);
    layer.wk = upload_matrix(b + "attn_k.weight", kv_width, c_.dim);
    layer.wv = upload_matrix(b + "attn_v.weight", kv_width, c_.dim);
    layer.wo = upload_matrix(b + "attn_output.weight", c_.dim, q_width);
    layer.w_gate = upload_matrix(b + "ffn_gate.weight", c_.ffn_dim, c_.dim);
    layer.w_up = upload_matrix(b + "ffn_up.weight", c_.ffn_dim, c_.dim);
    layer.w_down = upload_matrix(b + "ffn_down.weight", c_.dim, c_.ffn_dim);
    layer.attn_norm = upload_vector(b + "attn_norm.weight", c_.dim);
    layer.ffn_norm = upload_vector(b + "ffn_norm.weight", c_.dim);
    if (c_.qkv_bias) {
      layer.bq = upload_vector(b + "attn_q.bias", q_width);
      layer.bk = upload_vector(b + "attn_k.bias", kv_width);
      layer.bv = upload_vector(b + "attn_v.bias", kv_width);
    }
    if (c_.qk_norm) {
      layer.q_norm = upload_vector(b + "attn_q_norm.weight", c_.head_dim);
      layer.k_norm = upload_vector(b + "attn_k_norm.weight", c_.head_dim);
    }
    if (c_.post_norms) {
      layer.attn_post_norm = upload_vector(b + "post_attention_norm.weight", c_.dim);
      layer.ffn_post_norm = upload_vector(b + "post_ffw_norm.weight", c_.dim);
    }
    layers_.push_back(std::move(layer));
  }
  std::vector<float> factors;
  if (c_.rope_freq_factors) {
    const GgufTensor& t = model_.file()->tensor("rope_freqs.weight");
    factors.resize(c_.rope_dim / 2);
    kernels::dequantize(t.type, t.data, factors);
  }
  inv_freq_ = upload_floats(inverse_frequencies(c_, c_.rope_freq_base, c_.rope_freq_scale, factors),
                            "rope frequencies");
  inv_freq_swa_ =
      upload_floats(inverse_frequencies(c_, c_.rope_freq_base_swa, c_.rope_freq_scale_swa, factors),
                    "rope frequencies");

  // The KV cache: `blocks` blocks of KvCache's layout, addressed through the step's tables.
  check(cuda::DeviceBuffer::allocate(blocks * block_tokens_ * gpu_layers_ * 2 * kv_width * 2,
                                     kv_storage_),
        "allocating the KV cache");
  // Only the device's layers have keys and values here: layer l < gpu_layers_ at slot l.
  kv_ = {kv_storage_.as<uint16_t>(), block_tokens_, gpu_layers_, c_.n_kv_heads, c_.head_dim};

  const size_t rows = max_step_tokens_;
  auto floats = [&](cuda::DeviceBuffer& b, size_t n) {
    check(cuda::DeviceBuffer::allocate(n * sizeof(float), b), "allocating step buffers");
  };
  check(cuda::DeviceBuffer::allocate(rows * sizeof(int32_t), tokens_), "allocating");
  check(cuda::DeviceBuffer::allocate(rows * sizeof(int32_t), positions_), "allocating");
  check(cuda::DeviceBuffer::allocate(rows * sizeof(uint32_t), table_offsets_), "allocating");
  floats(bx_, rows * c_.dim);
  floats(bxb_, rows * c_.dim);
  floats(bq_, rows * q_width);
  floats(bk_, rows * kv_width);
  floats(bv_, rows * kv_width);
  floats(batt_, rows * q_width);
  floats(bgate_, rows * c_.ffn_dim);
  floats(bup_, rows * c_.ffn_dim);
  floats(scores_, rows * c_.n_heads * max_positions_);
}

LlamaCuda::Matrix LlamaCuda::upload_matrix(std::string_view name, size_t rows, size_t cols) {
  const GgufTensor& t = model_.file()->tensor(name);
  if (t.shape.size() != 2 || t.shape[0] != cols || t.shape[1] != rows) {
    throw EngineError("tensor " + std::string(name) + ": unexpected shape");
  }
  Matrix m;
  if (!weight_type(t.type, m.type)) {
    throw EngineError("tensor " + std::string(name) + ": type " + std::string(to_string(t.type)) +
                      " is not supported by the CUDA pass");
  }
  if (cols % static_cast<size_t>(cuda::block_elements(m.type)) != 0 ||
      t.data.size() < rows * cuda::row_bytes(m.type, cols)) {
    throw EngineError("tensor " + std::string(name) + ": data does not fit its shape");
  }
  m.rows = rows;
  m.cols = cols;
  const size_t bytes = rows * cuda::row_bytes(m.type, cols);
  check(cuda::DeviceBuffer::allocate(bytes, m.data), "allocating " + std::string(name));
  check(cuda::copy_to_device(m.data.get(), t.data.data(), bytes), "uploading " + std::string(name));
  return m;
}

cuda::DeviceBuffer LlamaCuda::upload_vector(std::string_view name, size_t n) {
  const GgufTensor& t = model_.file()->tensor(name);
  if (t.shape.size() != 1 || t.shape[0] != n) {
    throw EngineError("tensor " + std::string(name) + ": unexpected shape");
  }
  std::vector<float> v(n);
  kernels::dequantize(t.type, t.data, v);
  return upload_floats(v, name);
}

cuda::DeviceBuffer LlamaCuda::upload_floats(const std::vector<float>& v, std::string_view what) {
  cuda::DeviceBuffer b;
  check(cuda::DeviceBuffer::allocate(v.size() * sizeof(float), b),
        "allocating " + std::string(what));
  check(cuda::copy_to_device(b.get(), v.data(), v.size() * sizeof(float)),
        "uploading " + std::string(what));
  return b;
}

void LlamaCuda::matmul(const Matrix& w, const float* d_x, size_t n, float* d_out) {
  check(cuda::matmul(w.type, w.data.get(), w.rows, w.cols, d_x, n, d_out), "matmul");
}

std::span<const float> LlamaCuda::forward(TokenId token, size_t pos) {
  return forward_batch(std::span(&token, 1), pos);
}

std::span<const float> LlamaCuda::forward_batch(std::span<const TokenId> tokens, size_t start_pos) {
  if (cache_ != nullptr) throw EngineError("forward needs a LlamaCuda with its own KV cache");
  if (tokens.empty()) throw EngineError("forward_batch: no tokens");
  if (start_pos + tokens.size() > max_positions_) throw EngineError("position past the KV cache");
  const BatchSequence seq{tokens, start_pos, &own_seq_, true};
  return forward_step(std::span(&seq, 1));
}

std::span<const float> LlamaCuda::forward_step(std::span<const BatchSequence> batch) {
  if (batch.empty()) throw EngineError("forward_step: no sequences");
  if (!full_) {
    throw EngineError("this LlamaCuda holds only the first " + std::to_string(gpu_layers_) +
                      " layers: it runs through LlamaCpu::set_layer_offload");
  }
  check(cuda::set_device(device_), "selecting the CUDA device");
  // Everything is checked before the device cache is touched (LlamaCpu's checks).
  rows_.clear();
  logit_rows_.clear();
  tables_.clear();
  for (const BatchSequence& s : batch) {
    if (s.tokens.empty()) throw EngineError("forward_step: a sequence without tokens");
    if (s.kv == nullptr) throw EngineError("forward_step: a sequence without KV blocks");
    const size_t end = s.start_pos + s.tokens.size();
    if (end > s.kv->blocks.size() * block_tokens_) {
      throw EngineError("forward_step: positions past the sequence's reserved KV blocks");
    }
    if (end > max_positions_) throw EngineError("forward_step: positions past max_positions");
    if (s.start_pos < s.kv->published * block_tokens_) {
      throw EngineError("forward_step: positions inside the sequence's published KV blocks");
    }
    const auto offset = static_cast<uint32_t>(tables_.size());
    tables_.insert(tables_.end(), s.kv->blocks.begin(), s.kv->blocks.end());
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      const TokenId token = s.tokens[i];
      if (token < 0 || static_cast<uint32_t>(token) >= c_.n_vocab) {
        throw EngineError("token id " + std::to_string(token) + " outside the vocabulary");
      }
      rows_.push_back({token, static_cast<int32_t>(s.start_pos + i), offset});
    }
    if (s.want_logits) logit_rows_.push_back(rows_.size() - 1);
  }
  upload_tables();
  const size_t dim = c_.dim, n_logits = logit_rows_.size();
  if (n_logits > max_logit_rows_) {
    check(cuda::DeviceBuffer::allocate(n_logits * dim * sizeof(float), final_), "allocating");
    check(cuda::DeviceBuffer::allocate(n_logits * c_.n_vocab * sizeof(float), logits_d_),
          "allocating");
    max_logit_rows_ = n_logits;
  }
  size_t next_logit = 0;
  for (size_t begin = 0; begin < rows_.size(); begin += max_step_tokens_) {
    const size_t n = std::min(max_step_tokens_, rows_.size() - begin);
    forward_rows(begin, n, true);
    // Final states of this chunk's logit rows, before the next chunk overwrites bx_.
    for (; next_logit < n_logits && logit_rows_[next_logit] < begin + n; ++next_logit) {
      check(cuda::copy_on_device(final_.as<float>() + next_logit * dim,
                                 bx_.as<float>() + (logit_rows_[next_logit] - begin) * dim,
                                 dim * sizeof(float)),
            "gathering final states");
    }
  }
  if (n_logits == 0) return {};
  // Logits copied back for sampling on the host.
  float* final_states = final_.as<float>();
  check(cuda::rms_norm(final_states, output_norm_.as<float>(), n_logits, dim, c_.rms_eps,
                       final_states),
        "final norm");
  matmul(output_is_embd_ ? token_embd_ : output_, final_states, n_logits, logits_d_.as<float>());
  check(cuda::soft_cap(logits_d_.as<float>(), n_logits * c_.n_vocab, c_.final_softcap), "soft-cap");
  logits_.resize(n_logits * c_.n_vocab);
  check(cuda::copy_to_host(logits_.data(), logits_d_.get(), logits_.size() * sizeof(float)),
        "copying the logits back");
  return logits_;
}

void LlamaCuda::upload_tables() {
  if (table_.bytes() < tables_.size() * sizeof(uint32_t)) {
    check(cuda::DeviceBuffer::allocate(tables_.size() * sizeof(uint32_t), table_),
          "allocating block tables");
  }
  check(cuda::copy_to_device(table_.get(), tables_.data(), tables_.size() * sizeof(uint32_t)),
        "uploading block tables");
}

size_t LlamaCuda::run_layers(std::span<const LlamaCpu::Row> rows, size_t block_tokens, float* x) {
  if (block_tokens != block_tokens_) {
    throw EngineError("GPU layers: the CPU cache's blocks of " + std::to_string(block_tokens) +
                      " positions differ from the device cache's " + std::to_string(block_tokens_));
  }
  if (rows.size() > max_step_tokens_) throw EngineError("GPU layers: chunk past max_step_tokens");
  check(cuda::set_device(device_), "selecting the CUDA device");
  rows_.clear();
  tables_.clear();
  const KvSequence* last = nullptr;
  uint32_t offset = 0;
  for (const LlamaCpu::Row& r : rows) {
    if (r.pos >= max_positions_) throw EngineError("GPU layers: position past max_positions");
    if (r.kv != last) {  // a step's rows come sequence by sequence
      last = r.kv;
      offset = static_cast<uint32_t>(tables_.size());
      for (BlockId b : r.kv->blocks) {
        if (b >= kv_blocks_) throw EngineError("GPU layers: KV block outside the device cache");
      }
      tables_.insert(tables_.end(), r.kv->blocks.begin(), r.kv->blocks.end());
    }
    rows_.push_back({r.token, static_cast<int32_t>(r.pos), offset});
  }
  upload_tables();
  const size_t bytes = rows.size() * c_.dim * sizeof(float);
  check(cuda::copy_to_device(bx_.get(), x, bytes), "uploading hidden states");
  forward_rows(0, rows.size(), false);
  check(cuda::copy_to_host(x, bx_.get(), bytes), "copying hidden states back");
  return gpu_layers_;
}

// One chunk of rows through this object's layers, the steps of LlamaCpu::forward_rows on the
// device.
void LlamaCuda::forward_rows(size_t begin, size_t n, bool embed) {
  const size_t dim = c_.dim, head_dim = c_.head_dim, ffn = c_.ffn_dim;
  const size_t q_width = size_t{c_.n_heads} * head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * head_dim;
  std::vector<int32_t> ids(n), positions(n);
  std::vector<uint32_t> offsets(n);
  size_t max_span = 0;
  for (size_t i = 0; i < n; ++i) {
    const Row& r = rows_[begin + i];
    ids[i] = r.token;
    positions[i] = r.pos;
    offsets[i] = r.table_offset;
    max_span = std::max(max_span, static_cast<size_t>(r.pos) + 1);
  }
  check(cuda::copy_to_device(tokens_.get(), ids.data(), n * sizeof(int32_t)), "uploading tokens");
  check(cuda::copy_to_device(positions_.get(), positions.data(), n * sizeof(int32_t)),
        "uploading positions");
  check(cuda::copy_to_device(table_offsets_.get(), offsets.data(), n * sizeof(uint32_t)),
        "uploading table offsets");
  const cuda::StepRows rows{n, positions_.as<int32_t>(), table_.as<uint32_t>(),
                            table_offsets_.as<uint32_t>()};
  float* x = bx_.as<float>();
  float* xb = bxb_.as<float>();
  float* q = bq_.as<float>();
  float* k = bk_.as<float>();
  float* v = bv_.as<float>();
  const bool neox = c_.rope_style != RopeStyle::adjacent_pairs;

  if (embed) {
    check(cuda::embed(token_embd_.type, token_embd_.data.get(), dim, tokens_.as<int32_t>(), n,
                      c_.embedding_scale, x),
          "embedding");
  }
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& lw = layers_[l];
    check(cuda::rms_norm(x, lw.attn_norm.as<float>(), n, dim, c_.rms_eps, xb), "attention norm");
    matmul(lw.wq, xb, n, q);
    matmul(lw.wk, xb, n, k);
    matmul(lw.wv, xb, n, v);
    if (c_.qkv_bias) {
      check(cuda::add_bias(q, lw.bq.as<float>(), n, q_width), "bias");
      check(cuda::add_bias(k, lw.bk.as<float>(), n, kv_width), "bias");
      check(cuda::add_bias(v, lw.bv.as<float>(), n, kv_width), "bias");
    }
    if (c_.qk_norm) {
      check(cuda::rms_norm(q, lw.q_norm.as<float>(), n * c_.n_heads, head_dim, c_.rms_eps, q),
            "q norm");
      check(cuda::rms_norm(k, lw.k_norm.as<float>(), n * c_.n_kv_heads, head_dim, c_.rms_eps, k),
            "k norm");
    }
    const bool sliding = c_.is_sliding(l);
    const float* inv_freq = (sliding ? inv_freq_swa_ : inv_freq_).as<float>();
    check(cuda::rope(q, n, c_.n_heads, head_dim, c_.rope_dim, rows.d_positions, inv_freq, neox),
          "rope");
    check(cuda::rope(k, n, c_.n_kv_heads, head_dim, c_.rope_dim, rows.d_positions, inv_freq, neox),
          "rope");
    check(cuda::store_kv(kv_, l, rows, k, v), "storing keys and values");
    check(cuda::attention(kv_, l, rows, q, c_.n_heads, c_.attention_scale, c_.attn_softcap,
                          sliding ? c_.sliding_window : 0, max_span, scores_.as<float>(),
                          batt_.as<float>()),
          "attention");
    matmul(lw.wo, batt_.as<float>(), n, xb);
    if (c_.post_norms) {
      check(cuda::rms_norm(xb, lw.attn_post_norm.as<float>(), n, dim, c_.rms_eps, xb), "norm");
    }
    check(cuda::add(x, xb, n * dim), "residual");
    check(cuda::rms_norm(x, lw.ffn_norm.as<float>(), n, dim, c_.rms_eps, xb), "ffn norm");
    matmul(lw.w_gate, xb, n, bgate_.as<float>());
    matmul(lw.w_up, xb, n, bup_.as<float>());
    check(cuda::gated_ffn(bgate_.as<float>(), bup_.as<float>(), n * ffn,
                          c_.activation != FfnActivation::silu),
          "ffn activation");
    matmul(lw.w_down, bgate_.as<float>(), n, xb);
    if (c_.post_norms) {
      check(cuda::rms_norm(xb, lw.ffn_post_norm.as<float>(), n, dim, c_.rms_eps, xb), "norm");
    }
    check(cuda::add(x, xb, n * dim), "residual");
  }
}

}  // namespace sy::engine
