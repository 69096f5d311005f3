// An ELF64 relocatable-object loader for the code generator's output (x86-64, little-endian).
// The object is untrusted input until every check below has passed; only then is anything
// mapped executable.
#include "runtime/artifact/machine_code.h"

#include <dlfcn.h>
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "runtime/artifact/artifact.h"

namespace tl::rt {

namespace {

// Functions generated code calls: math the vectorizer or the lowering leaves as calls, and
// the memory builtins LLVM may emit for loops. Nothing else is resolved.
constexpr std::array<std::string_view, 64> kAllowedExternals = {
    "exp",   "expf",   "exp2",   "exp2f",  "expm1", "expm1f", "log",   "logf",  "log2",   "log2f",  "log10",
    "log10f", "log1p", "log1pf", "pow",    "powf",  "sqrt",   "sqrtf", "cbrt",  "cbrtf",  "sin",    "sinf",
    "cos",   "cosf",   "tan",    "tanf",   "asin",  "asinf",  "acos",  "acosf", "atan",   "atanf",  "atan2",
    "atan2f", "sinh",  "sinhf",  "cosh",   "coshf", "tanh",   "tanhf", "asinh", "asinhf", "acosh",  "acoshf",
    "atanh", "atanhf", "erf",    "erff",   "erfc",  "erfcf",  "fmod",  "fmodf", "floor",  "floorf", "ceil",
    "ceilf", "round",  "roundf", "trunc",  "truncf", "memset", "memcpy", "memmove", "fma"};

constexpr uint64_t kMaxObjectBytes = uint64_t{256} << 20;
constexpr uint64_t kMaxSections = 4096;

size_t page_size() {
  static const size_t size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

class Parser {
 public:
  Parser(std::string_view bytes, const std::string& what) : bytes_(bytes), what_(what) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw ArtifactError(what_ + " is not loadable machine code: " + why);
  }

  // `count` records of type T at `offset`, all inside the object.
  template <class T>
  const T* records(uint64_t offset, uint64_t count, const char* what) const {
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(count, sizeof(T), &bytes) || offset > bytes_.size() || bytes > bytes_.size() - offset)
      fail(std::string(what) + " lies outside the object (" + std::to_string(bytes_.size()) + " bytes)");
    if (offset % alignof(T) != 0) fail(std::string(what) + " is misaligned");
    return reinterpret_cast<const T*>(bytes_.data() + offset);
  }

  // The NUL-terminated string at `offset` of string table `table`.
  std::string_view string_at(const Elf64_Shdr& table, uint64_t offset, const char* what) const {
    if (table.sh_type != SHT_STRTAB) fail(std::string(what) + ": its string table is not a string table");
    const char* base = records<char>(table.sh_offset, table.sh_size, "a string table");
    if (offset >= table.sh_size) fail(std::string(what) + ": a name lies outside its string table");
    const void* end = std::memchr(base + offset, '\0', table.sh_size - offset);
    if (end == nullptr) fail(std::string(what) + ": a name is not terminated");
    return std::string_view(base + offset, static_cast<const char*>(end) - (base + offset));
  }

  std::string_view bytes() const { return bytes_; }

 private:
  std::string_view bytes_;
  const std::string& what_;
};

}  // namespace

bool is_allowed_external(std::string_view name) {
  return std::find(kAllowedExternals.begin(), kAllowedExternals.end(), name) != kAllowedExternals.end();
}

std::shared_ptr<const LoadedObject> LoadedObject::load(std::string_view object, const std::string& what) {
  // The object's bytes are copied to an aligned buffer: records are read in place.
  std::vector<uint64_t> aligned((object.size() + 7) / 8);
  if (!object.empty()) std::memcpy(aligned.data(), object.data(), object.size());
  const Parser p(std::string_view(reinterpret_cast<const char*>(aligned.data()), object.size()), what);
  if (object.size() > kMaxObjectBytes) p.fail("it is larger than " + std::to_string(kMaxObjectBytes) + " bytes");

  const Elf64_Ehdr& eh = *p.records<Elf64_Ehdr>(0, 1, "the ELF header");
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) p.fail("it does not start with the ELF magic");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    p.fail("it is not a little-endian 64-bit ELF file");
  if (eh.e_type != ET_REL) p.fail("it is not a relocatable object (ELF type " + std::to_string(eh.e_type) + ")");
  if (eh.e_machine != EM_X86_64) p.fail("it is for machine " + std::to_string(eh.e_machine) + ", not x86-64");
  if (eh.e_shentsize != sizeof(Elf64_Shdr)) p.fail("its section headers have an unexpected size");
  if (eh.e_shnum == 0 || eh.e_shnum > kMaxSections) p.fail("it has " + std::to_string(eh.e_shnum) + " sections");
  const Elf64_Shdr* sections = p.records<Elf64_Shdr>(eh.e_shoff, eh.e_shnum, "the section headers");
  const uint64_t count = eh.e_shnum;
  if (eh.e_shstrndx >= count) p.fail("its section-name table index is out of range");
  const Elf64_Shdr& names = sections[eh.e_shstrndx];

  // Which sections are loaded, and where: code and constants first (read-only, executable),
  // then writable data on pages of their own. Unwind tables are not loaded: no exception
  // passes through generated code.
  std::vector<int64_t> place(count, -1);
  uint64_t text_end = 0, data_end = 0;
  std::vector<size_t> writable;
  for (uint64_t i = 0; i < count; ++i) {
    const Elf64_Shdr& s = sections[i];
    if (s.sh_type != SHT_NOBITS && s.sh_type != SHT_NULL && s.sh_size > 0)
      p.records<char>(s.sh_offset, s.sh_size, "a section's contents");
    if (!(s.sh_flags & SHF_ALLOC) || (s.sh_type != SHT_PROGBITS && s.sh_type != SHT_NOBITS)) continue;
    const std::string_view name = p.string_at(names, s.sh_name, "a section");
    if (name == ".eh_frame") continue;
    const uint64_t alignment = std::max<uint64_t>(s.sh_addralign, 1);
    if ((alignment & (alignment - 1)) != 0 || alignment > page_size())
      p.fail("section '" + std::string(name) + "' has alignment " + std::to_string(alignment));
    if (s.sh_size > kMaxObjectBytes) p.fail("section '" + std::string(name) + "' is too large");
    if (s.sh_flags & SHF_WRITE) {
      writable.push_back(i);
      continue;
    }
    text_end = align_up(text_end, alignment);
    place[i] = static_cast<int64_t>(text_end);
    text_end += s.sh_size;
  }
  const uint64_t data_start = align_up(std::max<uint64_t>(text_end, 1), page_size());
  data_end = data_start;
  for (size_t i : writable) {
    const Elf64_Shdr& s = sections[i];
    data_end = align_up(data_end, std::max<uint64_t>(s.sh_addralign, 1));
    place[i] = static_cast<int64_t>(data_end);
    data_end += s.sh_size;
  }
  const uint64_t total = align_up(std::max(data_end, data_start), page_size());

  // The symbol table (exactly one) and its names.
  const Elf64_Shdr* symtab = nullptr;
  for (uint64_t i = 0; i < count; ++i) {
    if (sections[i].sh_type != SHT_SYMTAB) continue;
    if (symtab != nullptr) p.fail("it has more than one symbol table");
    symtab = &sections[i];
  }
  if (symtab == nullptr) p.fail("it has no symbol table");
  if (symtab->sh_entsize != sizeof(Elf64_Sym) || symtab->sh_link >= count)
    p.fail("its symbol table is malformed");
  const uint64_t symbol_count = symtab->sh_size / sizeof(Elf64_Sym);
  const Elf64_Sym* symbols = p.records<Elf64_Sym>(symtab->sh_offset, symbol_count, "the symbol table");
  const Elf64_Shdr& symbol_names = sections[symtab->sh_link];

  std::shared_ptr<LoadedObject> loaded(new LoadedObject());
  void* base = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) p.fail("cannot map " + std::to_string(total) + " bytes for it");
  loaded->base_ = base;
  loaded->size_ = total;
  char* image = static_cast<char*>(base);
  for (uint64_t i = 0; i < count; ++i) {
    if (place[i] < 0 || sections[i].sh_type == SHT_NOBITS || sections[i].sh_size == 0) continue;
    std::memcpy(image + place[i], p.bytes().data() + sections[i].sh_offset, sections[i].sh_size);
  }

  // Symbol addresses: defined in a loaded section, absolute, or an allowed outside function.
  std::vector<uint64_t> address(symbol_count, 0);
  std::vector<bool> resolved(symbol_count, false);
  for (uint64_t k = 1; k < symbol_count; ++k) {
    const Elf64_Sym& sym = symbols[k];
    const uint16_t index = sym.st_shndx;
    if (index == SHN_UNDEF) {
      const std::string_view name = p.string_at(symbol_names, sym.st_name, "a symbol");
      if (name.empty()) continue;
      if (!is_allowed_external(name))
        p.fail("it calls '" + std::string(name).substr(0, 64) + "', which generated code may not call");
      void* target = ::dlsym(RTLD_DEFAULT, std::string(name).c_str());
      if (target == nullptr) p.fail("'" + std::string(name) + "' is not available in this process");
      address[k] = reinterpret_cast<uint64_t>(target);
      resolved[k] = true;
    } else if (index == SHN_ABS) {
      address[k] = sym.st_value;
      resolved[k] = true;
    } else if (index < count && place[index] >= 0) {
      if (sym.st_value > sections[index].sh_size) p.fail("a symbol lies outside its section");
      address[k] = reinterpret_cast<uint64_t>(image + place[index] + sym.st_value);
      resolved[k] = true;
      if (ELF64_ST_BIND(sym.st_info) == STB_GLOBAL && ELF64_ST_TYPE(sym.st_info) == STT_FUNC) {
        const std::string_view name = p.string_at(symbol_names, sym.st_name, "a symbol");
        loaded->symbols_.emplace(std::string(name), address[k]);
      }
    }
  }

  // Relocations of the loaded sections.
  for (uint64_t r = 0; r < count; ++r) {
    const Elf64_Shdr& rs = sections[r];
    if (rs.sh_type == SHT_REL) p.fail("it has relocations without addends (SHT_REL)");
    if (rs.sh_type != SHT_RELA) continue;
    if (rs.sh_info >= count) p.fail("a relocation section names no section");
    if (place[rs.sh_info] < 0) continue;  // debug info, unwind tables: not loaded
    if (rs.sh_entsize != sizeof(Elf64_Rela) || rs.sh_link != static_cast<uint32_t>(symtab - sections))
      p.fail("a relocation section is malformed");
    const Elf64_Shdr& target = sections[rs.sh_info];
    const uint64_t n = rs.sh_size / sizeof(Elf64_Rela);
    const Elf64_Rela* relocations = p.records<Elf64_Rela>(rs.sh_offset, n, "a relocation section");
    for (uint64_t j = 0; j < n; ++j) {
      const Elf64_Rela& rel = relocations[j];
      const uint64_t sym = ELF64_R_SYM(rel.r_info);
      const uint32_t type = ELF64_R_TYPE(rel.r_info);
      if (sym >= symbol_count || (sym != 0 && !resolved[sym]))
        p.fail("relocation " + std::to_string(j) + " refers to a symbol that is not loaded");
      const uint64_t width = type == R_X86_64_64 || type == R_X86_64_PC64 ? 8 : 4;
      if (rel.r_offset > target.sh_size || width > target.sh_size - rel.r_offset)
        p.fail("relocation " + std::to_string(j) + " lies outside its section");
      char* at = image + place[rs.sh_info] + rel.r_offset;
      const uint64_t s = sym == 0 ? 0 : address[sym];
      const uint64_t pc = reinterpret_cast<uint64_t>(at);
      const uint64_t value = s + static_cast<uint64_t>(rel.r_addend);
      switch (type) {
        case R_X86_64_NONE: break;
        case R_X86_64_64: std::memcpy(at, &value, 8); break;
        case R_X86_64_PC64: {
          const uint64_t v = value - pc;
          std::memcpy(at, &v, 8);
          break;
        }
        case R_X86_64_PC32:
        case R_X86_64_PLT32: {
          const int64_t v = static_cast<int64_t>(value - pc);
          if (v != static_cast<int32_t>(v)) p.fail("a 32-bit relative relocation does not reach its target");
          const int32_t v32 = static_cast<int32_t>(v);
          std::memcpy(at, &v32, 4);
          break;
        }
        case R_X86_64_32:
        case R_X86_64_32S: {
          const bool fits = type == R_X86_64_32 ? value <= UINT32_MAX
                                                : static_cast<int64_t>(value) == static_cast<int32_t>(value);
          if (!fits) p.fail("a 32-bit absolute relocation does not fit its target's address");
          const uint32_t v32 = static_cast<uint32_t>(value);
          std::memcpy(at, &v32, 4);
          break;
        }
        default: p.fail("relocation type " + std::to_string(type) + " is not supported");
      }
    }
  }

  if (text_end > 0 && ::mprotect(base, align_up(text_end, page_size()), PROT_READ | PROT_EXEC) != 0)
    p.fail("cannot make its code executable");
  return loaded;
}

void* LoadedObject::symbol(std::string_view name) const {
  auto it = symbols_.find(std::string(name));
  return it == symbols_.end() ? nullptr : reinterpret_cast<void*>(it->second);
}

LoadedObject::~LoadedObject() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

}  // namespace tl::rt
