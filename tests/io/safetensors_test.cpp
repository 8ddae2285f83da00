// The safetensors reader and writer: every malformed-file class is rejected with its own
// message naming the file; write -> read round trips; views are zero-copy into a private
// mapping; the real fixtures (written by the reference implementation) read correctly.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "diffnorm/safetensors.h"

using namespace diffnorm;
namespace fs = std::filesystem;

namespace {

const fs::path kCorpus = fs::path(DN_SOURCE_DIR) / "tests/data/safetensors";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scratch folder for this process, removed when the tests end.
struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("diffnorm_safetensors_test_" + std::to_string(::getpid()));
  ~ScratchDir() { fs::remove_all(path); }
} scratch;

fs::path temp_path(const std::string& name) {
  fs::create_directories(scratch.path);
  return scratch.path / name;
}

// The message of the Error that `fn` throws ("" if it throws nothing).
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct MalformedCase {
  const char* file;
  const char* message;  // a substring unique to this failure class
};

const MalformedCase kMalformed[] = {
    {"too_short", "shorter than the 8-byte header length"},
    {"header_longer_than_file", "header length 1000 is larger than the file"},
    {"header_not_json", "header is not valid JSON"},
    {"header_not_object", "header is not a JSON object (found array)"},
    {"non_utf8_name", "header is not valid UTF-8 (byte 3 of the header"},
    {"entry_not_object", "entry 'a' is not an object (found number)"},
    {"missing_dtype", "tensor 'a' is missing the field 'dtype'"},
    {"missing_shape", "tensor 'a' is missing the field 'shape'"},
    {"missing_data_offsets", "tensor 'a' is missing the field 'data_offsets'"},
    {"dtype_not_string", "tensor 'a': dtype must be a string, found number"},
    {"unknown_dtype", "unsupported dtype 'F64' (supported: F32 F16 BF16 I64 I32 U8)"},
    {"negative_dimension", "shape [-1,1] has a negative dimension"},
    {"non_integer_dimension", "shape [1.5] has a non-integer dimension"},
    {"shape_size_mismatch", "shape [2,3] of F32 needs 24 bytes but data_offsets [0, 20] hold 20"},
    {"malformed_offsets", "data_offsets must be [begin, end] with non-negative integers, found [4]"},
    {"offsets_reversed", "data_offsets [8, 4] out of range (begin after end)"},
    {"overlapping_offsets", "tensors 'a' and 'b' overlap in the data section ([0, 8) and [4, 12))"},
    {"gap_between_tensors", "gap in the data section: bytes [4, 8) belong to no tensor (before 'b')"},
    {"duplicate_name", "duplicate tensor name 'a' in the header"},
    {"duplicate_field", "duplicate key 'dtype' inside a header entry"},
    {"truncated_data", "file truncated: the tensors need 16 bytes of data but only 10 follow the header"},
    {"trailing_bytes", "8 trailing bytes after the last tensor's data"},
    {"metadata_not_object", "__metadata__ must be an object of strings, found array"},
    {"metadata_value_not_string", "__metadata__ must be an object of strings, but 'epoch' is number"},
    {"number_overflow", "number overflow parsing '1E400'"},
    {"header_too_deep", "header JSON nests deeper than"},
};

class Malformed : public testing::TestWithParam<MalformedCase> {};

TEST_P(Malformed, OpenRejectsWithItsOwnMessageNamingTheFile) {
  const fs::path path = kCorpus / (std::string(GetParam().file) + ".safetensors");
  ASSERT_TRUE(fs::exists(path)) << path << " is missing: run tests/data/safetensors/make_corpus.py";
  const std::string message = error_of([&] { SafeTensorsFile::open(path.string()); });
  EXPECT_NE(message.find(GetParam().message), std::string::npos) << "got: " << message;
  EXPECT_EQ(message.rfind(path.string() + ": ", 0), 0u) << "does not start with the file: " << message;
}

TEST_P(Malformed, ParseOfTheSameBytesGivesTheSameMessage) {
  const std::string bytes = read_bytes(kCorpus / (std::string(GetParam().file) + ".safetensors"));
  const std::string message = error_of([&] { SafeTensorsFile::parse(bytes.data(), bytes.size(), "mem:x"); });
  EXPECT_NE(message.find(GetParam().message), std::string::npos) << "got: " << message;
  EXPECT_EQ(message.rfind("mem:x: ", 0), 0u) << message;
}

INSTANTIATE_TEST_SUITE_P(Corpus, Malformed, testing::ValuesIn(kMalformed),
                         [](const auto& info) { return std::string(info.param.file); });

TEST(MalformedCorpus, EveryFileHasACaseAndEveryMessageIsDistinct) {
  std::set<std::string> cases, messages;
  for (const MalformedCase& c : kMalformed) {
    cases.insert(c.file);
    EXPECT_TRUE(messages.insert(c.message).second) << c.message;
  }
  int files = 0;
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    if (entry.path().extension() != ".safetensors") continue;
    ++files;
    EXPECT_TRUE(cases.count(entry.path().stem().string())) << entry.path() << " has no expected message";
  }
  EXPECT_EQ(files, int(std::size(kMalformed)));
}

// Random bytes of the right size for each dtype (bit patterns are compared, not values).
Tensor random_tensor(const Shape& shape, DType dtype, std::mt19937& rng) {
  Tensor t = Tensor::empty(shape, dtype);
  auto* bytes = static_cast<unsigned char*>(t.raw());
  for (std::size_t i = 0; i < t.nbytes(); ++i) bytes[i] = static_cast<unsigned char>(rng());
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

TEST(SafeTensorsRoundTrip, EveryDTypeOddShapesScalarsEmptyAndMetadata) {
  std::mt19937 rng(7);
  const Shape shapes[] = {{}, {0}, {1}, {7}, {3, 0, 2}, {3, 5, 7}, {1, 1, 13, 1}};
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::U8}) {
    for (const Shape& shape : shapes) {
      tensors.emplace_back(fmt::format("{}.{}", dtype_name(dtype), shape_str(shape)), random_tensor(shape, dtype, rng));
    }
  }
  tensors.emplace_back("unicode.名前.ü", random_tensor({2}, DType::F32, rng));
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "a \"quoted\" value\n"}};
  const fs::path path = temp_path("round_trip.safetensors");
  save_safetensors(path.string(), tensors, metadata);
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));

  // The header is padded with spaces to a multiple of 8 and the data section is dense.
  const std::string raw = read_bytes(path);
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, raw.data(), 8);
  EXPECT_EQ(header_bytes % 8, 0u);
  std::size_t data_bytes = 0;
  for (const auto& [name, t] : tensors) data_bytes += t.nbytes();
  EXPECT_EQ(raw.size(), 8 + header_bytes + data_bytes);

  const SafeTensorsFile file = SafeTensorsFile::open(path.string());
  EXPECT_EQ(file.metadata(), metadata);
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(file.contains(name)) << name;
    EXPECT_TRUE(same_bytes(file.get(name), t)) << name;
  }
  // tensors() lists them in data order, which is the order they were written in.
  for (std::size_t i = 1; i < file.tensors().size(); ++i)
    EXPECT_LE(file.tensors()[i - 1].end, file.tensors()[i].begin);
}

TEST(SafeTensorsRoundTrip, NonContiguousInputIsStoredContiguous) {
  std::vector<float> v(24);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.5f;
  const Tensor x = Tensor::from_vector({2, 3, 4}, v);
  const Tensor permuted = x.permute({2, 0, 1});
  ASSERT_FALSE(permuted.is_contiguous());
  const fs::path path = temp_path("strided.safetensors");
  save_safetensors(path.string(), {{"p", permuted}});
  const Tensor back = SafeTensorsFile::open(path.string()).get("p");
  EXPECT_EQ(back.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(back.to_vector(), permuted.contiguous().to_vector());
}

TEST(SafeTensorsWriter, RejectsBadInputAndLeavesNoFileBehind) {
  const Tensor t = Tensor::zeros({2});
  const fs::path path = temp_path("bad.safetensors");
  EXPECT_NE(error_of([&] { save_safetensors(path.string(), {{"a", t}, {"a", t}}); }).find("given twice"),
            std::string::npos);
  EXPECT_NE(error_of([&] { save_safetensors(path.string(), {{"__metadata__", t}}); }).find("reserved"),
            std::string::npos);
  EXPECT_NE(error_of([&] { save_safetensors(path.string(), {{"bad\xff", t}}); }).find("not valid UTF-8"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  const std::string missing_dir = (temp_path("no_such_dir") / "x.safetensors").string();
  EXPECT_NE(error_of([&] { save_safetensors(missing_dir, {{"a", t}}); }).find("cannot create"), std::string::npos);
  // The target is a directory: the rename fails, the error says so, no .tmp remains.
  const fs::path dir_target = temp_path("a_directory");
  fs::create_directories(dir_target / "child");
  EXPECT_NE(error_of([&] { save_safetensors(dir_target.string(), {{"a", t}}); }).find("cannot rename"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir_target.string() + ".tmp"));
}

TEST(SafeTensorsWriter, WriteFailureIsAnErrorNotAShortFile) {
  // A file size limit makes writes fail with EFBIG (SIGXFSZ ignored for the duration).
  const fs::path path = temp_path("limited.safetensors");
  rlimit old_limit{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string message = error_of([&] { save_safetensors(path.string(), {{"a", Tensor::zeros({1 << 16})}}); });
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find(path.string() + ".tmp"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
}

// The first line of /proc/self/maps whose address range holds p.
std::string mapping_of(const void* p) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  while (std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi) return line;
  }
  return "";
}

TEST(SafeTensorsMapping, ViewsAreZeroCopyPrivateAndKeepTheMappingAlive) {
  const fs::path path = temp_path("mapped.safetensors");
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 4.0f};
  save_safetensors(path.string(), {{"w", Tensor::from_vector({2, 2}, values)}});
  const std::string before = read_bytes(path);

  Tensor view;
  {
    const SafeTensorsFile file = SafeTensorsFile::open(path.string());
    view = file.get("w");
    // Zero-copy: the view points into a private writable mapping of this very file.
    const std::string line = mapping_of(view.raw());
    EXPECT_NE(line.find(path.filename().string()), std::string::npos) << line;
    EXPECT_NE(line.find(" rw-p "), std::string::npos) << line;
    EXPECT_EQ(file.get("w").raw(), view.raw());
  }  // the file object is gone; the view must still hold the mapping
  EXPECT_EQ(view.to_vector(), values);
  view.data<float>()[0] = 99.0f;  // copy-on-write: the file on disk is untouched
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(SafeTensorsFile::open(path.string()).get("w").to_vector(), values);
}

TEST(SafeTensorsMapping, UnalignedDataIsCopiedToAlignedStorage) {
  // A legal file whose header length (5) leaves the f32 data at file offset 13.
  std::string bytes;
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const uint64_t n = header.size() + 1;  // one padding space makes the offset odd
  bytes.append(reinterpret_cast<const char*>(&n), 8);
  bytes += header + " ";
  const float values[2] = {0.75f, -8.5f};
  bytes.append(reinterpret_cast<const char*>(values), 8);
  ASSERT_NE((8 + n) % 4, 0u);
  const Tensor t = SafeTensorsFile::parse(bytes.data(), bytes.size()).get("a");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 4, 0u);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0.75f, -8.5f}));
}

TEST(SafeTensorsMapping, MissingTensorAndMissingFileAreErrors) {
  const std::string bytes = read_bytes(kCorpus.parent_path().parent_path().parent_path() /
                                       "fuzz/corpus/safetensors_fuzz/valid_two_tensors");
  const SafeTensorsFile file = SafeTensorsFile::parse(bytes.data(), bytes.size(), "seed");
  EXPECT_NE(error_of([&] { file.get("nope"); }).find("seed: no tensor named 'nope'"), std::string::npos);
  EXPECT_EQ(file.find("nope"), nullptr);
  EXPECT_NE(error_of([] { SafeTensorsFile::open("/nonexistent/x.safetensors"); }).find("cannot open"),
            std::string::npos);
  // The valid seed decodes to what make_corpus.py wrote.
  EXPECT_EQ(file.get("w").to_vector(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(file.get("b").to_vector(), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(file.metadata().at("format"), "pt");
}

// --- the real fixtures, written by the reference Python implementation --------------

// Decodes one element straight from the file bytes (independent of the reader).
double decode_element(const std::string& raw, uint64_t data_start, const std::string& dtype, uint64_t begin,
                      uint64_t index) {
  const char* p = raw.data() + data_start + begin;
  if (dtype == "F32") {
    float f;
    std::memcpy(&f, p + 4 * index, 4);
    return f;
  }
  if (dtype == "F16") {  // sign, 5-bit exponent (bias 15), 10-bit mantissa
    uint16_t h;
    std::memcpy(&h, p + 2 * index, 2);
    const int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    const double mag = exp == 0 ? std::ldexp(man, -24) : std::ldexp(1024 + man, exp - 25);
    return sign ? -mag : mag;
  }
  if (dtype == "I64") {
    int64_t v;
    std::memcpy(&v, p + 8 * index, 8);
    return double(v);
  }
  ADD_FAILURE() << "no test decoder for " << dtype;
  return 0;
}

void check_against_header(const fs::path& path) {
  SCOPED_TRACE(path.string());
  ASSERT_TRUE(fs::exists(path)) << "fixture missing";
  const std::string raw = read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  const nlohmann::json header = nlohmann::json::parse(raw.substr(8, n));
  const SafeTensorsFile file = SafeTensorsFile::open(path.string());
  EXPECT_EQ(file.tensors().size(), header.size() - header.count("__metadata__"));
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      EXPECT_EQ(file.metadata().size(), entry.size());
      continue;
    }
    const Tensor t = file.get(name);
    ASSERT_EQ(t.shape(), entry["shape"].get<Shape>()) << name;
    ASSERT_EQ(dtype_name(t.dtype()), entry["dtype"].get<std::string>()) << name;
    if (t.numel() == 0) continue;
    // The last element of every tensor, decoded by hand from the file's bytes.
    const uint64_t last = uint64_t(t.numel() - 1);
    const double expected = decode_element(raw, 8 + n, entry["dtype"], entry["data_offsets"][0], last);
    ASSERT_EQ(t.item(int64_t(last)), expected) << name;
  }
}

TEST(SafeTensorsFixtures, EveryTensorMatchesTheHeaderAndAHandDecode) {
  const fs::path shared(DN_SHARED_DIR);
  check_against_header(shared / "fixtures/sd15-tiny/unet/diffusion_pytorch_model.safetensors");
  check_against_header(shared / "fixtures/sd15-tiny/fixtures.safetensors");
  check_against_header(shared / "fixtures/pipelines/single_file/sd15-struct.fp16.safetensors");
  check_against_header(shared / "fixtures/lora/sd15/lora_a_kohya.safetensors");
}

}  // namespace
