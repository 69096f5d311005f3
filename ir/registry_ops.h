// The generated op classes of the registry ops (tl.add -> tl::ir::AddOp, ...), one per
// op-table entry (see gen_ods.cpp). Include only where an op is needed by class; generic
// code reaches every registry op through ir::op_def.
#pragma once

#include "ir/dialect.h"

#define GET_OP_CLASSES
#include "ir/registry_ops.h.inc"
