#include "tl/version.h"

namespace tl {

const char* version() { return TL_VERSION_STRING; }

}  // namespace tl
