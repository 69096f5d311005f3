// Tracelight: the one header users include.
#pragma once

#include "tl/autograd.h"
#include "tl/checkpoint.h"
#include "tl/data.h"
#include "tl/dtype.h"
#include "tl/device.h"
#include "tl/error.h"
#include "tl/io.h"
#include "tl/nn.h"
#include "tl/ops.h"
#include "tl/optim.h"
#include "tl/progress.h"
#include "tl/random.h"
#include "tl/run.h"
#include "tl/shape.h"
#include "tl/tensor.h"
#include "tl/threading.h"
