// JsonConfig: parse errors name the file, line and column; typed getters name the file and
// the key path on a missing key or a type mismatch; defaults apply to missing and null keys.
#include <gtest/gtest.h>

#include <filesystem>

#include "diffnorm/error.h"
#include "io/json_file.h"

using namespace diffnorm;

namespace {

template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonConfig, ParseErrorNamesFileLineAndColumn) {
  const std::string text = "{\n  \"a\": 1,\n  \"b\": ]\n}\n";
  const std::string message = error_of([&] { JsonConfig::parse(text, "unet/config.json"); });
  EXPECT_EQ(message.rfind("unet/config.json: invalid JSON at line 3, column 8: syntax error", 0), 0u) << message;
  EXPECT_NE(error_of([] { JsonConfig::parse("{\"a\": 1", "x.json"); }).find("x.json: invalid JSON at line 1"),
            std::string::npos);
  EXPECT_NE(error_of([] { JsonConfig::load("/nonexistent/config.json"); }).find("/nonexistent/config.json: cannot open"),
            std::string::npos);
}

TEST(JsonConfig, TypedGettersReportTheKeyPathOnMismatch) {
  const JsonConfig c = JsonConfig::parse(
      R"({"block_out_channels": "320", "sizes": [1, "x"], "scale": 0.5, "big": 3000000000,
          "flag": true, "nested": {"inner": {"n": 1.5}}, "nothing": null})",
      "unet/config.json");
  EXPECT_EQ(error_of([&] { c.get<std::vector<int>>("block_out_channels"); }),
            "unet/config.json: 'block_out_channels' should be an array of integers, found string");
  EXPECT_EQ(error_of([&] { c.get<std::vector<int>>("sizes"); }),
            "unet/config.json: 'sizes' should be an array of integers, found an array holding string");
  EXPECT_EQ(error_of([&] { c.get<int>("scale"); }),
            "unet/config.json: 'scale' should be an integer (32-bit), found a non-integer number");
  EXPECT_EQ(error_of([&] { c.get<int>("big"); }), "unet/config.json: 'big' should be an integer (32-bit), found number");
  EXPECT_EQ(c.get<int64_t>("big"), 3000000000);
  EXPECT_EQ(error_of([&] { c.object("nested").object("inner").get<int>("n"); }),
            "unet/config.json: 'nested/inner/n' should be an integer (32-bit), found a non-integer number");
  EXPECT_EQ(error_of([&] { c.get<std::string>("missing"); }),
            "unet/config.json: 'missing' should be a string, but it is missing");
  EXPECT_EQ(error_of([&] { c.get<double>("nothing"); }), "unet/config.json: 'nothing' should be a number, found null");
  EXPECT_EQ(error_of([&] { c.object("flag"); }), "unet/config.json: 'flag' should be an object, found boolean");
  EXPECT_EQ(error_of([&] { c.get_or<bool>("scale", false); }),
            "unet/config.json: 'scale' should be a boolean, found a non-integer number");
}

TEST(JsonConfig, DefaultsApplyToMissingAndNullKeysOnly) {
  const JsonConfig c = JsonConfig::parse(R"({"a": 2, "n": null, "s": "x", "f": [0.25, 1]})", "c.json");
  EXPECT_EQ(c.get_or<int>("a", 7), 2);
  EXPECT_EQ(c.get_or<int>("n", 7), 7);
  EXPECT_EQ(c.get_or<int>("absent", 7), 7);
  EXPECT_EQ(c.get_or<std::string>("s", "y"), "x");
  EXPECT_EQ(c.get<std::vector<double>>("f"), (std::vector<double>{0.25, 1.0}));
  EXPECT_DOUBLE_EQ(c.get<double>("a"), 2.0);  // an integer is a number
  EXPECT_TRUE(c.has("a"));
  EXPECT_FALSE(c.has("n"));
}

TEST(JsonConfig, ReadsARealDiffusersConfig) {
  const std::string path = std::string(DN_SHARED_DIR) + "/fixtures/sd15-tiny/unet/config.json";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const JsonConfig c = JsonConfig::load(path);
  EXPECT_EQ(c.origin(), path);
  EXPECT_EQ(c.get<std::string>("_class_name"), "UNet2DConditionModel");
  EXPECT_EQ(c.get<std::vector<int>>("block_out_channels"), (std::vector<int>{32, 48}));
  EXPECT_EQ(c.get<int>("cross_attention_dim"), 32);
  EXPECT_EQ(c.get_or<std::string>("addition_embed_type", "none"), "none");  // null in the file
}

}  // namespace
