#include "pipeline/generation_parameters.h"

#include <nlohmann/json.hpp>

namespace diffnorm {

namespace {

std::string quote(const std::string& v) {
  if (v.find_first_of(",:\n") == std::string::npos) return v;
  return nlohmann::json(v).dump();
}

std::string trim(const std::string& s) {
  const std::size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ' ' ||
         c == '-' || c == '/';
}

// A1111's re_param: \s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)
std::vector<std::pair<std::string, std::string>> parse_settings(const std::string& line) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t k = i;
    while (k < line.size() && is_key_char(line[k])) ++k;
    if (k == i || k >= line.size() || line[k] != ':') break;
    std::string key = trim(line.substr(i, k - i));
    i = k + 1;
    while (i < line.size() && line[i] == ' ') ++i;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      std::size_t j = i + 1;
      while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
      const std::string quoted = line.substr(i, j + 1 - i);
      value = nlohmann::json::parse(quoted, nullptr, false).is_string()
                  ? nlohmann::json::parse(quoted).get<std::string>()
                  : quoted;
      i = j + 1;
      while (i < line.size() && line[i] != ',') ++i;
    } else {
      const std::size_t comma = line.find(',', i);
      value = trim(line.substr(i, comma == std::string::npos ? std::string::npos : comma - i));
      i = comma == std::string::npos ? line.size() : comma;
    }
    if (i < line.size() && line[i] == ',') ++i;
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

}  // namespace

std::string GenerationParameters::get(const std::string& key) const {
  for (const auto& [k, v] : settings)
    if (k == key) return v;
  return "";
}

std::string format_generation_parameters(const GenerationParameters& p) {
  std::string out = p.prompt + "\n";
  if (!p.negative_prompt.empty()) out += "Negative prompt: " + p.negative_prompt + "\n";
  for (std::size_t i = 0; i < p.settings.size(); ++i)
    out += (i ? ", " : "") + p.settings[i].first + ": " + quote(p.settings[i].second);
  return out;
}

GenerationParameters parse_generation_parameters(const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t at = 0; at <= text.size();) {
    const std::size_t nl = text.find('\n', at);
    lines.push_back(trim(text.substr(at, nl == std::string::npos ? std::string::npos : nl - at)));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  GenerationParameters p;
  if (!lines.empty()) {
    auto settings = parse_settings(lines.back());
    if (settings.size() >= 3) {
      p.settings = std::move(settings);
      lines.pop_back();
    }
  }
  bool negative = false;
  for (const std::string& line : lines) {
    std::string l = line;
    if (l.rfind("Negative prompt:", 0) == 0) {
      negative = true;
      l = trim(l.substr(16));
    }
    std::string& dst = negative ? p.negative_prompt : p.prompt;
    dst += (dst.empty() ? "" : "\n") + l;
  }
  return p;
}

std::string a1111_sampler_label(const std::string& s) {
  if (s == "euler" || s == "euler_karras") return "Euler";
  if (s == "euler_ancestral" || s == "euler_a") return "Euler a";
  if (s == "heun") return "Heun";
  if (s == "lms") return "LMS";
  if (s == "dpmpp_2m" || s == "dpmpp_2m_karras") return "DPM++ 2M";
  if (s == "ddim") return "DDIM";
  if (s == "pndm") return "PLMS";
  return s;
}

}  // namespace diffnorm
