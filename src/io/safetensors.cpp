#include "diffnorm/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "diffnorm/arena.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "io/utf8.h"

namespace diffnorm {

static_assert(std::endian::native == std::endian::little, "safetensors stores little-endian data");

namespace {

using nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";
// The reference implementation refuses headers above 100 MB; so do we (a corrupt length
// field must not make us parse gigabytes).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests three levels deep ({name: {shape: [..]}}); anything much deeper is
// garbage, and refusing it bounds the parser's work.
constexpr int kMaxHeaderDepth = 8;

constexpr DType kAllDTypes[] = {DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::U8};

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (DType t : kAllDTypes)
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

struct Layout {
  std::vector<TensorInfo> tensors;  // sorted by data offset
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // byte offset of the data section in the file
};

// Parses the header JSON, rejecting duplicate keys (nlohmann keeps the last one silently).
json parse_header_json(std::string_view text, const std::string& origin) {
  std::vector<std::set<std::string>> keys_per_open_object;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    DN_CHECK(depth <= kMaxHeaderDepth, "{}: header JSON nests deeper than {} levels", origin, kMaxHeaderDepth);
    switch (event) {
      case json::parse_event_t::object_start: keys_per_open_object.emplace_back(); break;
      case json::parse_event_t::object_end: keys_per_open_object.pop_back(); break;
      case json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!keys_per_open_object.back().insert(key).second) {
          if (keys_per_open_object.size() == 1) fail("{}: duplicate tensor name '{}' in the header", origin, key);
          fail("{}: duplicate key '{}' inside a header entry", origin, key);
        }
        break;
      }
      default: break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), on_event);
  } catch (const json::exception& e) {  // syntax errors, and numbers beyond 64 bits (out_of_range)
    fail("{}: header is not valid JSON ({})", origin, e.what());
  }
}

Shape parse_shape(const json& value, const std::string& name, const std::string& origin) {
  DN_CHECK(value.is_array(), "{}: tensor '{}': shape must be an array of integers, found {}", origin, name,
           value.type_name());
  Shape shape;
  for (const json& d : value) {
    DN_CHECK(d.is_number_integer(), "{}: tensor '{}': shape {} has a non-integer dimension", origin, name,
             value.dump());
    DN_CHECK(d.is_number_unsigned(), "{}: tensor '{}': shape {} has a negative dimension", origin, name,
             value.dump());
    const uint64_t v = d.get<uint64_t>();
    DN_CHECK(v <= uint64_t(std::numeric_limits<int64_t>::max()), "{}: tensor '{}': dimension {} is too large",
             origin, name, v);
    shape.push_back(int64_t(v));
  }
  return shape;
}

std::pair<uint64_t, uint64_t> parse_offsets(const json& value, const std::string& name, const std::string& origin) {
  DN_CHECK(value.is_array() && value.size() == 2 && value[0].is_number_unsigned() && value[1].is_number_unsigned(),
           "{}: tensor '{}': data_offsets must be [begin, end] with non-negative integers, found {}", origin, name,
           value.dump());
  const uint64_t begin = value[0].get<uint64_t>(), end = value[1].get<uint64_t>();
  DN_CHECK(begin <= end, "{}: tensor '{}': data_offsets [{}, {}] out of range (begin after end)", origin, name,
           begin, end);
  return {begin, end};
}

TensorInfo parse_entry(const std::string& name, const json& entry, const std::string& origin) {
  DN_CHECK(entry.is_object(), "{}: entry '{}' is not an object (found {})", origin, name, entry.type_name());
  for (const char* field : {"dtype", "shape", "data_offsets"})
    DN_CHECK(entry.contains(field), "{}: tensor '{}' is missing the field '{}'", origin, name, field);
  const json& dtype_value = entry["dtype"];
  DN_CHECK(dtype_value.is_string(), "{}: tensor '{}': dtype must be a string, found {}", origin, name,
           dtype_value.type_name());
  const std::string& dtype_text = dtype_value.get_ref<const std::string&>();
  const std::optional<DType> dtype = dtype_from_safetensors_name(dtype_text);
  DN_CHECK(dtype.has_value(), "{}: tensor '{}' has unsupported dtype '{}' (supported: F32 F16 BF16 I64 I32 U8)",
           origin, name, dtype_text);

  TensorInfo info;
  info.name = name;
  info.dtype = *dtype;
  info.shape = parse_shape(entry["shape"], name, origin);
  std::tie(info.begin, info.end) = parse_offsets(entry["data_offsets"], name, origin);

  // numel * element size must equal the byte range (computed without overflow).
  uint64_t bytes = dtype_size(info.dtype);
  bool overflow = false;
  for (int64_t d : info.shape) overflow |= __builtin_mul_overflow(bytes, uint64_t(d), &bytes);
  if (overflow || bytes != info.end - info.begin) {
    fail("{}: tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}", origin, name,
         shape_str(info.shape), dtype_text, overflow ? std::string("more than 2^64") : std::to_string(bytes),
         info.begin, info.end, info.end - info.begin);
  }
  return info;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& origin) {
  DN_CHECK(value.is_object(), "{}: __metadata__ must be an object of strings, found {}", origin, value.type_name());
  std::map<std::string, std::string> metadata;
  for (const auto& [key, v] : value.items()) {
    DN_CHECK(v.is_string(), "{}: __metadata__ must be an object of strings, but '{}' is {}", origin, key,
             v.type_name());
    metadata.emplace(key, v.get<std::string>());
  }
  return metadata;
}

// The data section must be exactly the tensors' byte ranges laid end to end: no gap, no
// overlap, nothing missing (truncation) and nothing left over.
void check_data_coverage(const std::vector<TensorInfo>& sorted, uint64_t data_bytes, const std::string& origin) {
  uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : sorted) {
    if (t.begin > covered) {
      fail("{}: gap in the data section: bytes [{}, {}) belong to no tensor (before '{}')", origin, covered, t.begin,
           t.name);
    }
    if (t.begin < covered) {
      fail("{}: tensors '{}' and '{}' overlap in the data section ([{}, {}) and [{}, {}))", origin, previous->name,
           t.name, previous->begin, previous->end, t.begin, t.end);
    }
    covered = t.end;
    previous = &t;
  }
  if (covered > data_bytes) {
    fail("{}: file truncated: the tensors need {} bytes of data but only {} follow the header", origin, covered,
         data_bytes);
  }
  DN_CHECK(covered == data_bytes, "{}: {} trailing bytes after the last tensor's data", origin, data_bytes - covered);
}

Layout read_layout(const std::byte* bytes, std::size_t size, const std::string& origin) {
  DN_CHECK(size >= 8, "{}: file is {} bytes, shorter than the 8-byte header length (not a safetensors file)", origin,
           size);
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes, 8);
  DN_CHECK(header_bytes <= size - 8,
           "{}: header length {} is larger than the file: only {} bytes follow the length field", origin,
           header_bytes, size - 8);
  DN_CHECK(header_bytes <= kMaxHeaderBytes, "{}: header length {} exceeds the {}-byte limit", origin, header_bytes,
           kMaxHeaderBytes);
  const std::string_view text(reinterpret_cast<const char*>(bytes) + 8, std::size_t(header_bytes));
  if (const auto bad = first_invalid_utf8(text)) {
    fail("{}: header is not valid UTF-8 (byte {} of the header; tensor names and metadata must be UTF-8)", origin,
         *bad);
  }
  const json header = parse_header_json(text, origin);
  DN_CHECK(header.is_object(), "{}: header is not a JSON object (found {})", origin, header.type_name());

  Layout layout;
  layout.data_start = 8 + header_bytes;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      layout.metadata = parse_metadata(entry, origin);
    } else {
      layout.tensors.push_back(parse_entry(name, entry, origin));
    }
  }
  std::sort(layout.tensors.begin(), layout.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  check_data_coverage(layout.tensors, size - layout.data_start, origin);
  return layout;
}

}  // namespace

SafeTensorsFile SafeTensorsFile::open(const std::string& path) {
  std::shared_ptr<MappedFile> file = MappedFile::open(path);
  Layout layout = read_layout(file->data(), file->size(), path);
  SafeTensorsFile st;
  st.origin_ = path;
  st.data_ = file->data() + layout.data_start;
  st.mapping_ = std::move(file);
  st.tensors_ = std::move(layout.tensors);
  st.metadata_ = std::move(layout.metadata);
  for (std::size_t i = 0; i < st.tensors_.size(); ++i) st.index_.emplace(st.tensors_[i].name, i);
  return st;
}

SafeTensorsFile SafeTensorsFile::parse(const void* data, std::size_t size, std::string origin) {
  auto* copy = static_cast<std::byte*>(aligned_alloc64(size));
  std::shared_ptr<void> owner(copy, [](void* p) { aligned_free(p); });
  if (size > 0) std::memcpy(copy, data, size);
  Layout layout = read_layout(copy, size, origin);
  SafeTensorsFile st;
  st.origin_ = std::move(origin);
  st.data_ = copy + layout.data_start;
  st.mapping_ = std::move(owner);
  st.tensors_ = std::move(layout.tensors);
  st.metadata_ = std::move(layout.metadata);
  for (std::size_t i = 0; i < st.tensors_.size(); ++i) st.index_.emplace(st.tensors_[i].name, i);
  return st;
}

const TensorInfo* SafeTensorsFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Tensor SafeTensorsFile::get(std::string_view name) const {
  const TensorInfo* info = find(name);
  DN_CHECK(info != nullptr, "{}: no tensor named '{}' (the file has {} tensors)", origin_, name, tensors_.size());
  // The bytes are private to this process (copy-on-write mapping or our own copy), so a
  // mutable view cannot alter the file.
  std::byte* p = const_cast<std::byte*>(data_) + info->begin;
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(info->dtype) != 0) {
    // The format allows any offset; typed access needs element alignment, so copy.
    Tensor aligned = Tensor::empty(info->shape, info->dtype);
    std::memcpy(aligned.raw(), p, aligned.nbytes());
    return aligned;
  }
  return Tensor::view(p, info->shape, info->dtype, mapping_);
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  auto check_utf8 = [&](const std::string& text, std::string_view what) {
    DN_CHECK(!first_invalid_utf8(text), "{}: {} '{}' is not valid UTF-8", path, what, text);
  };
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& m = header[std::string(kMetadataKey)] = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) {
      check_utf8(key, "metadata key");
      check_utf8(value, "metadata value");
      m[key] = value;
    }
  }
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    DN_CHECK(name != kMetadataKey, "{}: '{}' is reserved and cannot name a tensor", path, name);
    DN_CHECK(names.insert(name).second, "{}: tensor name '{}' given twice", path, name);
    DN_CHECK(t.defined(), "{}: tensor '{}' is undefined", path, name);
    check_utf8(name, "tensor name");
    const uint64_t bytes = t.nbytes();
    header[name] = {{"dtype", std::string(dtype_name(t.dtype()))},
                    {"shape", t.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  // Pad the header with spaces so that the data section starts 8-byte aligned, as the
  // reference writer does.
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_bytes = text.size();

  AtomicFile file(path);
  file.write(&header_bytes, 8);
  file.write(text.data(), text.size());
  for (const auto& [name, t] : tensors) {
    const Tensor contiguous = t.contiguous();
    file.write(contiguous.raw(), contiguous.nbytes());
  }
  file.commit();
}

}  // namespace diffnorm
