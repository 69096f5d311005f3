// Limits every JSON document tl reads or writes must respect, checked before the JSON library
// sees the text: nlohmann's parser recurses once per nesting level (a document nested 100,000
// deep overflows the stack), and its dump throws a raw type_error on invalid UTF-8.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tl::detail {

// Deeper than any document tl writes (checkpoint metadata nests about 6 levels).
inline constexpr int kMaxJsonDepth = 64;

// Throws IoError("<what>: JSON nested deeper than <max_depth> levels at byte N") when arrays
// and objects nest deeper than `max_depth`. One linear scan that skips string contents.
void check_json_nesting(std::string_view text, const std::string& what, int max_depth = kMaxJsonDepth);

// Byte offset of the first invalid UTF-8 sequence in `s` (overlong forms, surrogates and
// code points above U+10FFFF count as invalid; a NUL too when `nul_is_invalid`), or nullopt
// when `s` is valid. `why`, when given, receives what is wrong there. One pass, 8 ASCII bytes
// at a time: every reader of text (CSV, run files, checkpoint names) validates through it.
std::optional<size_t> first_invalid_utf8(std::string_view s, std::string* why = nullptr, bool nul_is_invalid = false);

// `s` with control characters (NUL included) and invalid bytes escaped as \xNN, so an error
// message can show a name in full without being cut or garbling a terminal.
std::string printable(std::string_view s);

}  // namespace tl::detail
