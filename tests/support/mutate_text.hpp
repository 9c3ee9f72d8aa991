#pragma once
// Test support: deterministic random edits of a valid text file (byte flips, deletions,
// insertions of likely tokens, duplicated and swapped lines), for the hostile-input tests of
// the text parsers (topology files, TOML configs). Header-only.

#include <random>
#include <string>
#include <string_view>

namespace murmur::testsupport {

inline std::string mutateText(std::string text, std::mt19937& rng) {
  // Tokens that reach deeper into a parser than random bytes: numbers at the edges of the
  // integer types, separators, keywords.
  static constexpr std::string_view kTokens[] = {
      "0",     "-1",         "4294967295", "4294967296", "18446744073709551616",
      "1e309", "nan",        "inf",        ":",          "::",
      "[",     "]",          "=",          "\"",         "#",
      "\n",    " ",          "\t",         ".",          "-",
      "edge",  "node",       "cluster",    "0.5",        "65535",
      "65536", "[::1]:7000", "true",       "\xff\xfe",   std::string_view("\0", 1)};
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = text.empty() ? 0 : rng() % (text.size() + 1);
    switch (rng() % 5) {
      case 0:  // flip one byte
        if (!text.empty()) text[pos % text.size()] = static_cast<char>(rng());
        break;
      case 1:  // delete a short run
        if (!text.empty()) text.erase(pos % text.size(), 1 + rng() % 8);
        break;
      case 2: {  // insert a token
        const auto& tok = kTokens[rng() % std::size(kTokens)];
        text.insert(pos, tok.data(), tok.size());
        break;
      }
      case 3: {  // duplicate the line around pos
        const size_t start = text.rfind('\n', pos == 0 ? 0 : pos - 1);
        const size_t from = start == std::string::npos ? 0 : start + 1;
        const size_t end = text.find('\n', from);
        const std::string line =
            text.substr(from, (end == std::string::npos ? text.size() : end + 1) - from);
        text.insert(from, line);
        break;
      }
      default:  // cut the file short
        text.resize(pos);
        break;
    }
  }
  return text;
}

}  // namespace murmur::testsupport
