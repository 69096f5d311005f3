// A bound on the nesting depth of MLIR text, checked before the text reaches MLIR 15's
// recursive-descent parser, which overflows the stack on deep input (thousands of nested
// regions or of nested `dense<[[[...]]]>` lists). Plain C++: no MLIR include.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tl::tools {

// Deeper than any IR tl writes or reads (a traced function nests a few levels) and far below
// the depth at which the parser runs out of an 8 MB stack, even with sanitizers.
inline constexpr int kMaxIrNesting = 256;

// Scans `text` once, outside string literals and `//` comments, for what makes the parser
// recurse: the brackets `{`, `(`, `[` and `<` (the `>` of `->` and `>=` closes nothing), and
// runs of unary minus (`- - d0` in an affine expression) and the binary `+` and `*` of an
// expression inside `<...>` (`d0 + d0 + ...` in an affine map), which count on top of the
// open brackets. A closing bracket pops the innermost matching opener, so an unbalanced `<` (a
// comparison in an attribute) cannot accumulate. Returns nullopt when the depth stays within `max_depth`,
// else an error "<file_name>:<line>:<column>: ..." naming the bracket that crossed the limit
// (line and column count from 1).
std::optional<std::string> check_ir_nesting(std::string_view text, std::string_view file_name,
                                            int max_depth = kMaxIrNesting);

}  // namespace tl::tools
