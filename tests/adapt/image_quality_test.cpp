// PSNR / SSIM against scikit-image 0.19 (the oracle, run by /usr/bin/python3 on fresh
// random and structured PNG pairs), through the library and through `diffnorm compare`.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/png.h"
#include "pipeline/image_quality.h"

namespace diffnorm {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string name, a, b;
  double psnr, ssim;
};

std::string run(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return "<popen failed>";
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = pclose(p);
  if (status) *status = rc;
  return out;
}

/// Writes the pairs with a fresh seed and returns skimage's numbers for them.
std::vector<Case> oracle_cases(const fs::path& dir) {
  const unsigned seed = std::random_device{}() % 100000;
  fs::remove_all(dir);
  const std::string cmd = "/usr/bin/python3 " + std::string(DN_SOURCE_DIR) + "/tests/adapt/ssim_oracle.py " +
                          dir.string() + " " + std::to_string(seed);
  int status = 0;
  const std::string log = run(cmd, &status);
  EXPECT_EQ(status, 0) << cmd << "\n" << log;
  std::ifstream in(dir / "cases.txt");
  std::vector<Case> cases;
  std::string psnr, ssim;
  for (Case c; in >> c.name >> c.a >> c.b >> psnr >> ssim;) {
    c.psnr = std::stod(psnr);  // "inf" parses as infinity
    c.ssim = std::stod(ssim);
    cases.push_back(c);
  }
  EXPECT_EQ(cases.size(), 8u) << "oracle seed " << seed << ": " << log;
  return cases;
}

void expect_matches(const Case& c, double psnr, double ssim) {
  if (std::isinf(c.psnr)) {
    EXPECT_TRUE(std::isinf(psnr) && psnr > 0) << c.name << ": psnr " << psnr;
  } else {
    EXPECT_NEAR(psnr, c.psnr, 1e-6) << c.name;
  }
  EXPECT_NEAR(ssim, c.ssim, 1e-6) << c.name;
}

TEST(ImageQuality, MatchesScikitImage) {
  for (const Case& c : oracle_cases(fs::path(DN_BINARY_DIR) / "adapt_test_out" / "ssim_lib")) {
    const Tensor a = rgb_tensor(read_png(c.a)), b = rgb_tensor(read_png(c.b));
    const pipeline::ImageQuality q = pipeline::image_quality(a, b);
    expect_matches(c, q.psnr, q.ssim);
    if (c.name == "identical") {
      EXPECT_EQ(q.ssim, 1.0);
    }
  }
}

TEST(ImageQuality, CompareCommandMatchesScikitImage) {
  const fs::path cli = fs::path(DN_BINARY_DIR) / "diffnorm";
  ASSERT_TRUE(fs::exists(cli)) << cli << " missing: build the diffnorm_cli target";
  for (const Case& c : oracle_cases(fs::path(DN_BINARY_DIR) / "adapt_test_out" / "ssim_cli")) {
    int status = 0;
    const std::string out = run(cli.string() + " compare " + c.a + " " + c.b, &status);
    ASSERT_EQ(status, 0) << out;
    std::istringstream s(out);
    std::string k1, psnr, unit, k2;
    double ssim = 0;
    s >> k1 >> psnr >> unit >> k2 >> ssim;
    ASSERT_EQ(k1, "psnr") << out;
    ASSERT_EQ(k2, "ssim") << out;
    if (std::isinf(c.psnr)) {
      EXPECT_EQ(psnr, "inf") << out;
    }
    expect_matches(c, std::stod(psnr), ssim);
  }
}

TEST(ImageQuality, RejectsMismatchedOrTooSmallImages) {
  const Tensor a = Tensor::zeros({16, 16, 3}, DType::U8), b = Tensor::zeros({16, 17, 3}, DType::U8);
  EXPECT_THROW(pipeline::psnr(a, b), Error);
  try {
    pipeline::ssim(a, b);
    ADD_FAILURE() << "no error for different sizes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("17x16"), std::string::npos) << e.what();
  }
  const Tensor small = Tensor::zeros({10, 30, 3}, DType::U8);
  EXPECT_THROW(pipeline::ssim(small, small), Error);

  const fs::path cli = fs::path(DN_BINARY_DIR) / "diffnorm";
  ASSERT_TRUE(fs::exists(cli)) << cli << " missing: build the diffnorm_cli target";
  const fs::path dir = fs::path(DN_BINARY_DIR) / "adapt_test_out" / "ssim_sizes";
  fs::create_directories(dir);
  write_png((dir / "a.png").string(), a);
  write_png((dir / "b.png").string(), b);
  int status = 0;
  const std::string out = run(cli.string() + " compare " + (dir / "a.png").string() + " " + (dir / "b.png").string(), &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("same size"), std::string::npos) << out;
  const std::string missing = run(cli.string() + " compare " + (dir / "nope.png").string() + " " + (dir / "b.png").string(), &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(missing.find("nope.png"), std::string::npos) << missing;
}

}  // namespace
}  // namespace diffnorm
