// Errors users can act on: every exception names the op, what it expected, what it
// got, and the caller's file:line (a `Site`, captured by std::source_location).
#pragma once

#include <cstdint>
#include <source_location>
#include <stdexcept>
#include <string>

namespace tl {

// The user's call site. Public functions take `Site site = Site::here()` as their last
// parameter so that errors point at the user's line, not at a library frame. Nothing a user
// types by accident converts to it (no constructor takes one value: `x.sum({0})` cannot
// mean a Site), so overloads that differ by a trailing Site stay unambiguous.
struct Site {
  const char* file = "";
  uint32_t line = 0;

  constexpr Site() = default;
  constexpr Site(const char* f, uint32_t l) : file(f), line(l) {}
  static constexpr Site here(std::source_location loc = std::source_location::current()) {
    return Site{loc.file_name(), loc.line()};
  }
  // "train.cpp:41" (the file's base name only).
  std::string str() const;
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};
class ShapeError : public Error { using Error::Error; };
class DTypeError : public Error { using Error::Error; };
class DeviceError : public Error { using Error::Error; };
class IoError : public Error { using Error::Error; };
class ValueError : public Error { using Error::Error; };
class AutogradError : public Error { using Error::Error; };
// A compiled program cannot be built or run (tl::compile, the executor).
class CompileError : public Error { using Error::Error; };

namespace detail {
[[noreturn]] void assert_fail(const char* cond, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace tl

// A broken internal invariant: the bug is in Tracelight, not in the user's program.
#define TL_ASSERT(cond, msg)                                              \
  do {                                                                    \
    if (!(cond)) ::tl::detail::assert_fail(#cond, __FILE__, __LINE__, msg); \
  } while (0)
