// TorchGenerator against torch 1.13's own draws (shared/fixtures/rng): bit-exact.
#include "pipeline/torch_rng.h"

#include <bit>
#include <cstring>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "diffnorm/safetensors.h"
#include "fixture_paths.h"

namespace diffnorm {
namespace {

using test::fixture_path;
using test::load_json_fixture;

// Number of elements whose bit patterns differ.
int64_t bit_mismatches(const float* a, const float* b, int64_t n) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i]);
  return bad;
}

class TorchRngFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    json_ = new nlohmann::json(load_json_fixture("rng/rng.json"));
    file_ = new SafeTensorsFile(SafeTensorsFile::open(fixture_path("rng/rng.safetensors")));
  }
  static void TearDownTestSuite() {
    delete json_;
    delete file_;
  }
  static nlohmann::json* json_;
  static SafeTensorsFile* file_;
};
nlohmann::json* TorchRngFixture::json_ = nullptr;
SafeTensorsFile* TorchRngFixture::file_ = nullptr;

TEST_F(TorchRngFixture, EveryEntryMatchesFirstLastValuesAndSums) {
  const auto& entries = (*json_)["entries"];
  ASSERT_GE(entries.size(), 60u);
  int vector_path = 0, scalar_path = 0;
  for (const auto& e : entries) {
    const uint64_t seed = e["seed"].get<uint64_t>();
    const Shape shape = e["shape"].get<Shape>();
    SCOPED_TRACE(fmt::format("seed {} shape {}", seed, shape_str(shape)));
    TorchGenerator gen(seed);
    const Tensor t = gen.randn(shape);
    const float* v = t.data<float>();
    const int64_t n = t.numel();
    ASSERT_EQ(n, e["numel"].get<int64_t>());
    (n >= 16 ? vector_path : scalar_path)++;

    const auto first = e["first64"].get<std::vector<double>>();
    const auto last = e["last32"].get<std::vector<double>>();
    ASSERT_EQ(int64_t(first.size()), std::min<int64_t>(64, n));
    for (size_t i = 0; i < first.size(); ++i) ASSERT_EQ(v[i], float(first[i])) << "index " << i;
    ASSERT_EQ(int64_t(last.size()), std::min<int64_t>(32, n));
    for (size_t i = 0; i < last.size(); ++i)
      ASSERT_EQ(v[n - int64_t(last.size()) + int64_t(i)], float(last[i])) << "from end " << last.size() - i;

    double sum = 0, sumsq = 0;
    for (int64_t i = 0; i < n; ++i) {
      sum += v[i];
      sumsq += double(v[i]) * v[i];
    }
    // The reference sums in double in another order: equal to rounding of the accumulation.
    EXPECT_NEAR(sum, e["sum_f64"].get<double>(), 1e-9 * std::max(1.0, sumsq));
    EXPECT_NEAR(sumsq, e["sumsq_f64"].get<double>(), 1e-12 * sumsq);

    if (e.contains("stored") && e["stored"].is_string()) {
      const Tensor ref = file_->get(e["stored"].get<std::string>());
      ASSERT_EQ(ref.shape(), shape);
      EXPECT_EQ(bit_mismatches(v, ref.data<float>(), n), 0);
    }
  }
  EXPECT_GT(vector_path, 20);
  EXPECT_GT(scalar_path, 20);
}

TEST_F(TorchRngFixture, EveryStoredRandnTensorIsBitExact) {
  int checked = 0;
  for (const TensorInfo& info : file_->tensors()) {
    if (info.name.rfind("randn.seed", 0) != 0) continue;
    // "randn.seed<S>.<shape>": the seed is the second dot-separated field.
    const std::string rest = info.name.substr(std::strlen("randn.seed"));
    const uint64_t seed = std::stoull(rest.substr(0, rest.find('.')));
    TorchGenerator gen(seed);
    const Tensor ref = file_->get(info.name);
    const Tensor t = gen.randn(info.shape);
    EXPECT_EQ(bit_mismatches(t.data<float>(), ref.data<float>(), t.numel()), 0) << info.name;
    ++checked;
  }
  EXPECT_GE(checked, 50);
}

TEST_F(TorchRngFixture, BigDrawIsBitExact) {
  const Tensor ref = file_->get("randn.seed1234.2x4x64x64");
  TorchGenerator gen(1234);
  const Tensor t = gen.randn({2, 4, 64, 64});
  EXPECT_EQ(bit_mismatches(t.data<float>(), ref.data<float>(), t.numel()), 0);
}

TEST_F(TorchRngFixture, StatePersistsAcrossDrawsWithTheTailRule) {
  // randn(17) then randn(16): the 17-draw consumed 17 + 16 words (tail block recomputed).
  const Tensor ref = file_->get("seq.seed42.randn17_then_randn16");
  ASSERT_EQ(ref.numel(), 33);
  TorchGenerator gen(42);
  const Tensor a = gen.randn({17});
  const Tensor b = gen.randn({16});
  EXPECT_EQ(bit_mismatches(a.data<float>(), ref.data<float>(), 17), 0);
  EXPECT_EQ(bit_mismatches(b.data<float>(), ref.data<float>() + 17, 16), 0);
  // And that is not one randn(33) split (the fixture checked: False).
  TorchGenerator single(42);
  const Tensor joint = single.randn({33});
  EXPECT_GT(bit_mismatches(joint.data<float>(), ref.data<float>(), 33), 0);
}

TEST_F(TorchRngFixture, InitialLatentsThenEulerAncestralStepNoises) {
  const Tensor ref = file_->get("seq.seed1234.initial_then_3_step_noises.1x4x8x8");
  ASSERT_EQ(ref.numel(), 4 * 256);
  TorchGenerator gen(1234);
  for (int draw = 0; draw < 4; ++draw) {
    const Tensor t = gen.randn({1, 4, 8, 8});
    EXPECT_EQ(bit_mismatches(t.data<float>(), ref.data<float>() + draw * 256, 256), 0) << "draw " << draw;
  }
}

TEST_F(TorchRngFixture, ScalarPathCachesTheSecondBoxMullerValue) {
  TorchGenerator a(7), b(7);
  const Tensor three1 = a.randn({3});
  const Tensor three2 = a.randn({3});
  const Tensor six = b.randn({6});
  EXPECT_EQ(bit_mismatches(three1.data<float>(), six.data<float>(), 3), 0);
  EXPECT_EQ(bit_mismatches(three2.data<float>(), six.data<float>() + 3, 3), 0);
  // manual_seed clears the cache: an odd draw, re-seed, then the same odd draw repeats.
  TorchGenerator c(9);
  const Tensor first = c.randn({5});
  c.manual_seed(9);
  const Tensor again = c.randn({5});
  EXPECT_EQ(bit_mismatches(first.data<float>(), again.data<float>(), 5), 0);
}

TEST_F(TorchRngFixture, RandIsLow24BitsOfOneWord) {
  const Tensor ref = file_->get("rand.seed0.uniform_float32.64");
  TorchGenerator gen(0);
  const Tensor t = gen.rand({64});
  EXPECT_EQ(bit_mismatches(t.data<float>(), ref.data<float>(), 64), 0);
}

TEST_F(TorchRngFixture, EngineWordsAreMt19937) {
  const Tensor ref = file_->get("mt19937.seed0.first64_uint32_as_int64");
  ASSERT_EQ(ref.numel(), 64);
  TorchGenerator gen(0);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(int64_t(gen.random()), ref.data<int64_t>()[i]) << i;
}

TEST(TorchRng, OnlyTheLow32BitsOfTheSeedMatter) {
  TorchGenerator a(0xffffffffull), b(0x7fffffffffffffffull), c(0), d(uint64_t(1) << 32);
  EXPECT_EQ(a.random(), b.random());
  EXPECT_EQ(c.random(), d.random());
}

}  // namespace
}  // namespace diffnorm
