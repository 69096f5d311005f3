// The linear pre-scan that bounds nesting depth before IR text is handed to MLIR's parser.
#include "tools/tl-opt/nesting_limit.h"

#include <vector>

namespace tl::tools {

std::optional<std::string> check_ir_nesting(std::string_view text, std::string_view file_name, int max_depth) {
  std::vector<char> open;  // the unclosed openers, innermost last; never longer than max_depth
  // Binary `+` and `*` inside an open `<` (an affine map or set): the affine parser recurses
  // once per operator of a chain, so each counts as a level while its `<` is open.
  std::vector<size_t> operators;  // per entry of `open`
  size_t open_operators = 0;
  auto pop_to = [&](size_t size) {
    while (open.size() > size) {
      open_operators -= operators.back();
      operators.pop_back();
      open.pop_back();
    }
  };
  size_t line = 1, line_start = 0;
  const size_t n = text.size();
  auto too_deep = [&](size_t at) {
    return std::string(file_name) + ":" + std::to_string(line) + ":" + std::to_string(at - line_start + 1) +
           ": error: IR nested deeper than " + std::to_string(max_depth) + " levels at '" + text[at] +
           "' (each bracket {, (, [, <, each unary minus and each + or * of an affine expression opens one); "
           "refused before parsing: MLIR's recursive "
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
        if (open.size() + open_operators + run > static_cast<size_t>(max_depth)) return too_deep(i);
        i = j - 1;
        break;
      }
      case '/':
        if (i + 1 < n && text[i + 1] == '/') {
          while (i + 1 < n && text[i + 1] != '\n') ++i;
        }
        break;
      case '+':
      case '*': {
        // Not the sign of an exponent (`1.0e+00` in a dense literal).
        if (c == '+' && i > 0 && (text[i - 1] == 'e' || text[i - 1] == 'E')) break;
        size_t angle = open.size();
        while (angle > 0 && open[angle - 1] != '<') --angle;
        if (angle == 0) break;
        ++operators[angle - 1];
        if (open.size() + ++open_operators > static_cast<size_t>(max_depth)) return too_deep(i);
        break;
      }
      case '{':
      case '(':
      case '[':
      case '<':
        if (open.size() + open_operators >= static_cast<size_t>(max_depth)) return too_deep(i);
        open.push_back(c);
        operators.push_back(0);
        break;
      case '>':
        if (i > 0 && text[i - 1] == '-') break;      // `->`
        if (i + 1 < n && text[i + 1] == '=') break;  // `>=`
        // Closes only an innermost `<`: a stray `>` must not close brackets the parser still
        // has open.
        if (!open.empty() && open.back() == '<') pop_to(open.size() - 1);
        break;
      case '}':
      case ')':
      case ']': {
        const char opener = c == '}' ? '{' : c == ')' ? '(' : '[';
        // Pop to the matching opener, dropping unclosed `<` on the way; a closer with none
        // open is the parser's error to report.
        size_t k = open.size();
        while (k > 0 && open[k - 1] != opener) --k;
        if (k > 0) pop_to(k - 1);
        break;
      }
      default:
        break;
    }
  }
  return std::nullopt;
}

}  // namespace tl::tools
