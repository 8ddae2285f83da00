// A test-only reader of safetensors fixtures that hold F64 tensors (the library's strict
// reader supports the dtypes the engine uses; the AdaBN reference keeps float64 statistics).
// Every value comes back as double. A missing file or tensor throws (failing the test).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace diffnorm::test {

class FixtureFile {
 public:
  explicit FixtureFile(const std::string& path) : path_(path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("fixture missing: " + path);
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    uint64_t n = 0;
    std::memcpy(&n, bytes_.data(), 8);
    header_ = nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + 8 + int64_t(n));
    data_ = 8 + n;
  }

  bool contains(const std::string& name) const { return header_.contains(name); }

  /// Every tensor name, in header order (the metadata entry excluded).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, entry] : header_.items())
      if (name != "__metadata__") out.push_back(name);
    return out;
  }

  std::vector<int64_t> shape(const std::string& name) const { return entry(name)["shape"].get<std::vector<int64_t>>(); }

  std::vector<double> values(const std::string& name) const {
    const nlohmann::json& e = entry(name);
    const std::string dtype = e["dtype"];
    const uint64_t begin = data_ + e["data_offsets"][0].get<uint64_t>(), end = data_ + e["data_offsets"][1].get<uint64_t>();
    const char* p = bytes_.data() + begin;
    std::vector<double> out;
    auto read = [&]<class T>(T) {
      for (uint64_t off = 0; off < end - begin; off += sizeof(T)) {
        T v;
        std::memcpy(&v, p + off, sizeof(T));
        out.push_back(double(v));
      }
    };
    if (dtype == "F64") read(double());
    else if (dtype == "F32") read(float());
    else if (dtype == "I64") read(int64_t());
    else if (dtype == "U8") read(uint8_t());
    else throw std::runtime_error(path_ + ": tensor '" + name + "' has dtype " + dtype + ", not handled here");
    return out;
  }

 private:
  const nlohmann::json& entry(const std::string& name) const {
    if (!header_.contains(name)) throw std::runtime_error(path_ + ": fixture tensor '" + name + "' missing");
    return header_[name];
  }

  std::string path_;
  std::vector<char> bytes_;
  nlohmann::json header_;
  uint64_t data_ = 0;
};

}  // namespace diffnorm::test
