// tl::load_program for an artifact already in memory (tlc's verified input, the model inside an
// emitted executable). load_program takes a path, so the bytes are handed to it as an anonymous
// in-memory file: memfd_create, read back through /proc/self/fd/N.
#pragma once

#include <string>
#include <string_view>

#include "tl/program.h"

namespace tl::tlc {

// Loads and verifies `bytes` exactly as tl::load_program verifies a file. Errors are the
// loader's (rt::ArtifactError, tl::IoError) with `name` in place of the /proc/self/fd path.
// Where memfd_create is unavailable the bytes go to an unlinked temporary file instead.
Program load_program_bytes(std::string_view bytes, const std::string& name);

}  // namespace tl::tlc
