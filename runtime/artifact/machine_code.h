// Generated code carried by a compiled artifact: the x86-64 ELF relocatable object the code
// generator emits for fused groups, loaded from memory without LLVM. The loader copies the
// object's code and constants into fresh pages, applies its relocations, resolves the few
// outside functions generated code calls (libm's and memset/memcpy, from a fixed list, so an
// artifact cannot reach any other function of the process) and maps the code read-only and
// executable. Every offset, size, index and relocation is checked against the object first:
// a truncated or hostile object is refused with ArtifactError and nothing runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tl::rt {

class LoadedObject {
 public:
  // Loads `object`. Errors read "<what> is not loadable machine code: <why>" (`what` names
  // the object, e.g. "code object 0"; the caller adds which file).
  static std::shared_ptr<const LoadedObject> load(std::string_view object, const std::string& what);

  // The address of the global symbol `name` defined by the object, or null.
  void* symbol(std::string_view name) const;
  size_t mapped_bytes() const { return size_; }

  ~LoadedObject();
  LoadedObject(const LoadedObject&) = delete;
  LoadedObject& operator=(const LoadedObject&) = delete;

 private:
  LoadedObject() = default;
  void* base_ = nullptr;
  size_t size_ = 0;
  std::unordered_map<std::string, uintptr_t> symbols_;
};

// Whether generated code may call the outside function `name` (a libm function, memset, ...).
bool is_allowed_external(std::string_view name);

}  // namespace tl::rt
