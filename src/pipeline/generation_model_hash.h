// The model hash written into a generation's PNG parameters: AUTOMATIC1111's short hash,
// the first 10 hex digits of the SHA-256 of the checkpoint file (modules/hashes.py).
// For a diffusers folder the hashed file is the UNet's weight file (there is no single
// checkpoint file; the UNet is what tells two fine-tunes apart).
#pragma once

#include <string>

namespace diffnorm {

/// SHA-256 of a file's bytes, 64 lowercase hex digits (Error naming the file if unreadable).
std::string sha256_file_hex(const std::string& path);
/// A1111's "Model hash": sha256_file_hex(path).substr(0, 10).
std::string a1111_short_hash(const std::string& path);

}  // namespace diffnorm
