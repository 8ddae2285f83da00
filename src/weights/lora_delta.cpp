#include "weights/lora_delta.h"

#include "core/check.h"

namespace diffnorm::weights {

namespace {

// A row-major float64 matrix: a factor tensor seen as [shape[0], everything else].
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  double at(int64_t r, int64_t c) const { return v[std::size_t(r * cols + c)]; }
};

Matrix as_matrix(const Tensor& t) {
  Matrix m;
  m.rows = t.dim() == 0 ? 1 : t.size(0);
  m.cols = m.rows == 0 ? 0 : t.numel() / m.rows;
  const Tensor c = t.contiguous();
  const float* p = c.data<float>();
  m.v.assign(p, p + c.numel());
  return m;
}

Matrix matmul(const Matrix& a, const Matrix& b) {
  Matrix out{a.rows, b.cols, std::vector<double>(std::size_t(a.rows * b.cols), 0.0)};
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < a.rows; ++i) {
    double* row = &out.v[std::size_t(i * b.cols)];
    for (int64_t k = 0; k < a.cols; ++k) {
      const double x = a.at(i, k);
      const double* brow = &b.v[std::size_t(k * b.cols)];
      for (int64_t j = 0; j < b.cols; ++j) row[j] += x * brow[j];
    }
  }
  return out;
}

std::string factor_shapes(const LoraPatch& p) {
  std::string s;
  for (const auto& [name, t] : p.factors) s += (s.empty() ? "" : ", ") + name + " " + shape_str(t.shape());
  return s;
}

// What every format's check failure says: the patch, the module's weight and the factors.
[[noreturn]] void misfit(const LoraPatch& p, const Shape& w, const std::string& origin, const std::string& why) {
  fail("{}: '{}' does not fit its module's weight {} ({}): {}", origin, p.name, shape_str(w), factor_shapes(p), why);
}

// The product a @ b of two stored factors, checking the inner dimension.
Matrix product(const LoraPatch& p, const std::string& a, const std::string& b, const Shape& w,
               const std::string& origin) {
  const Matrix ma = as_matrix(p.factors.at(a)), mb = as_matrix(p.factors.at(b));
  if (ma.cols != mb.rows) misfit(p, w, origin, a + " and " + b + " have different ranks");
  return matmul(ma, mb);
}

std::vector<double> lora(const LoraPatch& p, const Shape& w, int64_t out, int64_t in_flat, const std::string& origin) {
  const Tensor& down = p.factors.at("down");
  if (down.dim() == 4 && w.size() == 4 && !std::equal(w.begin() + 1, w.end(), down.shape().begin() + 1))
    misfit(p, w, origin, "the down conv's input channels / kernel differ from the module's");
  const Matrix m = product(p, "up", "down", w, origin);
  if (m.rows != out || m.cols != in_flat) misfit(p, w, origin, "up @ down has another shape");
  return m.v;
}

std::vector<double> loha(const LoraPatch& p, const Shape& w, int64_t out, int64_t in_flat, const std::string& origin) {
  const Matrix m1 = product(p, "hada_w1_a", "hada_w1_b", w, origin);
  const Matrix m2 = product(p, "hada_w2_a", "hada_w2_b", w, origin);
  for (const Matrix* m : {&m1, &m2})
    if (m->rows != out || m->cols != in_flat) misfit(p, w, origin, "a Hadamard factor has another shape");
  std::vector<double> d(m1.v.size());
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = m1.v[i] * m2.v[i];
  return d;
}

std::vector<double> lokr(const LoraPatch& p, const Shape& w, int64_t out, int64_t in_flat, const std::string& origin) {
  const Matrix w1 = p.factors.count("lokr_w1") ? as_matrix(p.factors.at("lokr_w1"))
                                               : product(p, "lokr_w1_a", "lokr_w1_b", w, origin);
  const Matrix w2 = p.factors.count("lokr_w2") ? as_matrix(p.factors.at("lokr_w2"))
                                               : product(p, "lokr_w2_a", "lokr_w2_b", w, origin);
  // w1 [a, c] is the block factor; w2 [b, d·k] (k = kh·kw of a conv) fills each block.
  const int64_t k = in_flat / w[1];
  if (w1.rows * w2.rows != out || w1.cols * w2.cols != in_flat || w2.cols % k != 0)
    misfit(p, w, origin, "kron(w1, w2) has another shape");
  std::vector<double> d(std::size_t(out * in_flat));
  for (int64_t i = 0; i < w1.rows; ++i)
    for (int64_t q = 0; q < w2.rows; ++q) {
      double* row = &d[std::size_t((i * w2.rows + q) * in_flat)];
      for (int64_t j = 0; j < w1.cols; ++j) {
        const double s = w1.at(i, j);
        for (int64_t c = 0; c < w2.cols; ++c) row[j * w2.cols + c] = s * w2.at(q, c);
      }
    }
  return d;
}

// The patch's own scale (alpha / r, or LoKr's rule).
double lora_scale(const LoraPatch& p) {
  int64_t rank = 0;
  switch (p.kind) {
    case LoraKind::LoRA: rank = p.factors.at("down").size(0); break;
    case LoraKind::LoHa: rank = p.factors.at("hada_w1_b").size(0); break;
    case LoraKind::LoKr:
      if (p.factors.count("lokr_w2_b"))
        rank = p.factors.at("lokr_w2_b").size(0);
      else if (p.factors.count("lokr_w1_b"))
        rank = p.factors.at("lokr_w1_b").size(0);
      else
        return 1.0;  // both factors full: alpha is ignored
      break;
  }
  return p.alpha ? *p.alpha / double(rank) : 1.0;
}

}  // namespace

std::vector<double> lora_delta(const LoraPatch& p, const Shape& w, const std::string& origin) {
  if (w.size() != 2 && w.size() != 4) misfit(p, w, origin, "only Linear and Conv2d weights can be adapted");
  const int64_t out = w[0], in_flat = shape_numel(w) / std::max<int64_t>(w[0], 1);
  std::vector<double> d;
  switch (p.kind) {
    case LoraKind::LoRA: d = lora(p, w, out, in_flat, origin); break;
    case LoraKind::LoHa: d = loha(p, w, out, in_flat, origin); break;
    case LoraKind::LoKr: d = lokr(p, w, out, in_flat, origin); break;
  }
  const double scale = lora_scale(p);
  for (double& x : d) x *= scale;
  return d;
}

}  // namespace diffnorm::weights
