#include "runtime/base/foreign_calls.h"

namespace tl::rt {
namespace {
thread_local int depth = 0;
}  // namespace

bool in_foreign_call() noexcept { return depth > 0; }
ForeignCallScope::ForeignCallScope() noexcept { ++depth; }
ForeignCallScope::~ForeignCallScope() { --depth; }

}  // namespace tl::rt
