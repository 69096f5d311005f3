// tlc --emit lib: a shared library holding one model, with a C header of typed entry points
// named after it (docs/tlc.md):
//
//   tlc mlp.tlart -o libmlp.so --emit lib     # writes libmlp.so and mlp.h beside it
//
//   #include "mlp.h"
//   float x[784], y[10];
//   if (mlp_run(x, y) != 0) fprintf(stderr, "%s\n", mlp_last_error());
//
// The library is a small generated C file compiled by the system C compiler ($CC, else cc):
// the artifact is embedded with the assembler's .incbin, and each entry point fills the
// runtime's C API descriptors (tl_runtime.h) from typed pointers. It links libtl_runtime
// only, exports only the model's own symbols (so libraries of several models load side by
// side), and loads and verifies its model on first use.
#pragma once

#include <string>
#include <string_view>

#include "runtime/artifact/artifact.pb.h"

namespace tl::tlc {

// The C identifier a model is named by in its header: `name` when given, else the library's
// file name without a leading "lib" and everything from the first '.' ("libmlp.so" -> "mlp").
// Characters that cannot appear in an identifier become '_'; a leading digit gets a '_'.
std::string model_symbol_name(const std::string& library_path, const std::string& name = {});

// The header text for a model named `symbol` with signature `manifest` (what the library was
// built from is `source`, for the header's comment).
std::string model_header(const std::string& symbol, const artifact::Manifest& manifest, const std::string& library_file,
                         const std::string& source);

struct EmittedLibrary {
  std::string header_path;
  uint64_t library_bytes = 0;
};

// Writes the library at `library_path` and its header beside it (`<symbol>.h`), both
// atomically. Throws tl::IoError naming the file, or the C compiler's command and messages
// when it fails or is missing.
EmittedLibrary emit_library(const std::string& library_path, std::string_view artifact_bytes,
                            const artifact::Manifest& manifest, const std::string& symbol, const std::string& source);

}  // namespace tl::tlc
