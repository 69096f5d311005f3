// The linear pre-scan that bounds nesting depth before IR text is handed to MLIR's parser.
#include "tools/tl-opt/nesting_limit.h"

#include <vector>

namespace tl::tools {

std::optional<std::string> check_ir_nesting(std::string_view text, std::string_view file_name, int max_depth) {
  std::vector<char> open;  // the unclosed openers, innermost last; never longer than max_depth
  size_t line = 1, line_start = 0;
  const size_t n = text.size();
  auto too_deep = [&](size_t at) {
    return std::string(file_name) + ":" + std::to_string(line) + ":" + std::to_string(at - line_start + 1) +
           ": error: IR nested deeper than " + std::to_string(max_depth) + " levels at '" + text[at] +
           "' (each bracket {, (, [, < and each unary minus opens one); refused before parsing: MLIR's recursive "
           "parser would overflow the stack";
  };
  for (size_t i = 0; i < n; ++i) {
    const char c = text[i];
    switch (c) {
      case '\n':
        ++line;
        line_start = i + 1;
        break;
      case '"':
        // A string literal ends at the next unescaped quote; MLIR strings hold no raw newline,
        // and an unterminated one is the parser's error to report, so stop at the line end.
        for (++i; i < n && text[i] != '"' && text[i] != '\n'; ++i) {
          if (text[i] == '\\') ++i;
        }
        if (i < n && text[i] == '\n') --i;  // let the loop count the line
        break;
      case '-': {
        // Unary minus recurses in the affine expression parser (`- - - d0`): a run of minus
        // signs counts as that many levels on top of the brackets.
        size_t run = 1, j = i + 1;
        for (; j < n && (text[j] == '-' || text[j] == ' ' || text[j] == '\t'); ++j) run += text[j] == '-';
        if (j < n && text[j] == '>') --run;  // the last one is an arrow's
        if (open.size() + run > static_cast<size_t>(max_depth)) return too_deep(i);
        i = j - 1;
        break;
      }
      case '/':
        if (i + 1 < n && text[i + 1] == '/') {
          while (i + 1 < n && text[i + 1] != '\n') ++i;
        }
        break;
      case '{':
      case '(':
      case '[':
      case '<':
        if (static_cast<int>(open.size()) == max_depth) return too_deep(i);
        open.push_back(c);
        break;
      case '>':
        if (i > 0 && text[i - 1] == '-') break;      // `->`
        if (i + 1 < n && text[i + 1] == '=') break;  // `>=`
        // Closes only an innermost `<`: a stray `>` must not close brackets the parser still
        // has open.
        if (!open.empty() && open.back() == '<') open.pop_back();
        break;
      case '}':
      case ')':
      case ']': {
        const char opener = c == '}' ? '{' : c == ')' ? '(' : '[';
        // Pop to the matching opener, dropping unclosed `<` on the way; a closer with none
        // open is the parser's error to report.
        size_t k = open.size();
        while (k > 0 && open[k - 1] != opener) --k;
        if (k > 0) open.resize(k - 1);
        break;
      }
      default:
        break;
    }
  }
  return std::nullopt;
}

}  // namespace tl::tools
