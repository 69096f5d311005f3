// Tracelight's version.
#pragma once

namespace tl {

// "0.1.0": the version of the libtl_runtime this program runs with (tlc --version prints it).
const char* version();

}  // namespace tl
