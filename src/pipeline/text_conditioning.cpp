#include "pipeline/text_conditioning.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "pipeline/prompt_chunks.h"

namespace diffnorm {
namespace {

// Which hidden state a pipeline kind feeds the UNet.
enum class Layer { LastWithFinalNorm, PenultimateNoNorm };

struct EncodedChunks {
  std::vector<Tensor> chunks;  // [1, 77, D] each
  Tensor pooled;               // text_embeds of the first chunk (encoders with projection)
};

Tensor ids_tensor(const std::vector<int>& ids) {
  Tensor t = Tensor::empty({1, int64_t(ids.size())}, DType::I64);
  for (std::size_t i = 0; i < ids.size(); ++i) t.data<int64_t>()[i] = ids[i];
  return t;
}

// A1111 sd_hijack_clip: z *= weights per token, then z *= mean(z before) / mean(z after).
void apply_emphasis(Tensor& z, const std::vector<float>& weights) {
  if (std::all_of(weights.begin(), weights.end(), [](float w) { return w == 1.0f; })) return;
  float* p = z.data<float>();
  const int64_t tokens = z.size(1), dim = z.size(2), n = z.numel();
  double before = 0, after = 0;
  for (int64_t i = 0; i < n; ++i) before += p[i];
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t d = 0; d < dim; ++d) p[t * dim + d] *= weights[t];
  for (int64_t i = 0; i < n; ++i) after += p[i];
  const float ratio = float(before / double(n)) / float(after / double(n));
  for (int64_t i = 0; i < n; ++i) p[i] *= ratio;
}

EncodedChunks encode_chunks(const TextEncoderSlot& slot, const std::string& prompt, Layer layer,
                            const TextEncodeOptions& o) {
  DN_CHECK(o.clip_skip >= 1, "clip skip must be >= 1 (1 = the model's usual layer), got {}", o.clip_skip);
  PromptChunkOptions chunking;
  chunking.parse_emphasis = o.emphasis;
  chunking.pad_id = slot.tokenizer.pad_id();
  EncodedChunks out;
  for (const PromptChunk& chunk : chunk_prompt(slot.tokenizer, prompt, chunking)) {
    const models::CLIPTextOutput r = slot.model->forward(ids_tensor(chunk.ids));
    const int64_t n_states = int64_t(r.hidden_states.size());
    // hidden_states[-k] in Python's indexing is r.hidden_states[n_states - k].
    const int64_t back = layer == Layer::LastWithFinalNorm ? o.clip_skip : o.clip_skip + 1;
    DN_CHECK(back < n_states, "clip skip {} is too large for a text encoder with {} layers", o.clip_skip,
             n_states - 1);
    Tensor z;
    if (layer == Layer::LastWithFinalNorm)
      z = back == 1 ? r.last_hidden_state.clone() : slot.model->final_layer_norm(r.hidden_states[n_states - back]);
    else
      z = r.hidden_states[n_states - back].clone();
    z = z.contiguous();
    apply_emphasis(z, chunk.weights);
    out.chunks.push_back(std::move(z));
    if (!out.pooled.defined() && r.text_embeds.defined() && r.text_embeds.numel() > 0) out.pooled = r.text_embeds.clone();
  }
  return out;
}

// Tensors [1, T, D_i] side by side on channels -> [1, T, sum D_i].
Tensor concat_channels(const std::vector<Tensor>& parts) {
  const int64_t tokens = parts[0].size(1);
  int64_t dim = 0;
  for (const Tensor& p : parts) dim += p.size(2);
  Tensor out = Tensor::empty({1, tokens, dim});
  int64_t offset = 0;
  for (const Tensor& p : parts) {
    const Tensor c = p.contiguous();
    const int64_t d = c.size(2);
    for (int64_t t = 0; t < tokens; ++t)
      std::memcpy(out.data<float>() + t * dim + offset, c.data<float>() + t * d, sizeof(float) * d);
    offset += d;
  }
  return out;
}

// Tensors [1, T_i, D] one after another along tokens.
Tensor concat_tokens(const std::vector<Tensor>& parts) {
  int64_t tokens = 0;
  for (const Tensor& p : parts) tokens += p.size(1);
  Tensor out = Tensor::empty({1, tokens, parts[0].size(2)});
  std::size_t at = 0;
  for (const Tensor& p : parts) {
    const Tensor c = p.contiguous();
    std::memcpy(reinterpret_cast<char*>(out.raw()) + at, c.raw(), c.nbytes());
    at += c.nbytes();
  }
  return out;
}

// Pads a chunk list with the empty prompt's chunk up to `count` chunks.
void pad_chunks(const TextEncoderSlot& slot, Layer layer, const TextEncodeOptions& o, std::vector<Tensor>& chunks,
                std::size_t count) {
  if (chunks.size() >= count) return;
  const Tensor empty = encode_chunks(slot, "", layer, o).chunks[0];
  while (chunks.size() < count) chunks.push_back(empty);
}

}  // namespace

TextConditioning encode_prompt(const PipelineModels& m, const std::string& prompt,
                               const std::optional<std::string>& prompt_2, const TextEncodeOptions& o) {
  TextConditioning c;
  switch (m.kind) {
    case PipelineKind::SD: {
      c.context = concat_tokens(encode_chunks(*m.text_encoder, prompt, Layer::LastWithFinalNorm, o).chunks);
      break;
    }
    case PipelineKind::SDXLBase: {
      EncodedChunks l = encode_chunks(*m.text_encoder, prompt, Layer::PenultimateNoNorm, o);
      EncodedChunks g = encode_chunks(*m.text_encoder_2, prompt_2.value_or(prompt), Layer::PenultimateNoNorm, o);
      const std::size_t n = std::max(l.chunks.size(), g.chunks.size());
      pad_chunks(*m.text_encoder, Layer::PenultimateNoNorm, o, l.chunks, n);
      pad_chunks(*m.text_encoder_2, Layer::PenultimateNoNorm, o, g.chunks, n);
      std::vector<Tensor> joined;
      for (std::size_t i = 0; i < n; ++i) joined.push_back(concat_channels({l.chunks[i], g.chunks[i]}));
      c.context = concat_tokens(joined);
      c.pooled = g.pooled;
      break;
    }
    case PipelineKind::SDXLRefiner: {
      EncodedChunks g = encode_chunks(*m.text_encoder_2, prompt_2.value_or(prompt), Layer::PenultimateNoNorm, o);
      c.context = concat_tokens(g.chunks);
      c.pooled = g.pooled;
      break;
    }
  }
  DN_CHECK(m.kind == PipelineKind::SD || c.pooled.defined(),
           "SDXL text_encoder_2 has no text_projection (config architectures must be CLIPTextModelWithProjection)");
  return c;
}

TextConditioning zeros_like(const TextConditioning& c) {
  TextConditioning z;
  z.context = Tensor::zeros(c.context.shape());
  if (c.pooled.defined()) z.pooled = Tensor::zeros(c.pooled.shape());
  return z;
}

void match_token_counts(const PipelineModels& m, TextConditioning& a, TextConditioning& b,
                        const TextEncodeOptions& o) {
  const int64_t ta = a.context.size(1), tb = b.context.size(1);
  if (ta == tb) return;
  TextConditioning& shorter = ta < tb ? a : b;
  const int64_t target = std::max(ta, tb);
  const Tensor empty = encode_prompt(m, "", std::nullopt, o).context;  // one chunk of 77
  std::vector<Tensor> parts = {shorter.context};
  for (int64_t t = shorter.context.size(1); t < target; t += empty.size(1)) parts.push_back(empty);
  shorter.context = concat_tokens(parts);
}

}  // namespace diffnorm
