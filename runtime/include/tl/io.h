// Reading and writing tensors as files: NumPy's .npy format.
#pragma once

#include <string>

#include "tl/error.h"
#include "tl/tensor.h"

namespace tl {

// Writes `t` to `path` as a NumPy .npy file (format 1.0; 2.0 only if the header needs it).
// Supported dtypes: float32, float64, float16, int32, int64, bool (stored little-endian as
// '<f4', '<f8', '<f2', '<i4', '<i8', '|b1'); bfloat16 throws DTypeError (NumPy has no such
// type; convert first). Any layout or device is accepted: the data is copied to a contiguous
// CPU buffer first. The write is atomic: the file is written to a unique temporary in the
// same directory, synced and renamed over `path`, so `path` is either its old content or the
// complete new file. Throws IoError (naming the path, the failing call and the bytes written)
// when the directory is missing or unwritable, the disk is full, or `path` is a directory or
// a symbolic link; the temporary is removed and a previous file is left intact.
void save_npy(const std::string& path, const Tensor& t, Site site = Site::here());

// Reads a NumPy .npy file (format 1.0, 2.0 or 3.0) into a new contiguous CPU tensor.
// A path that is not a regular file (a FIFO, a directory, a device, a socket) is refused with
// IoError without blocking on it.
// Accepts the dtypes save_npy writes, in C or Fortran order (Fortran order is converted to
// C order). Throws IoError naming the path, the byte offset, what was expected and what was
// found when the file is truncated, has a bad magic string or version, a header length
// beyond the file, a malformed header dict, an unsupported dtype (e.g. '|u1', big-endian or
// structured), a negative, overflowing or over-rank shape, or a data size that differs from
// shape x dtype. Nothing is allocated for the data until its size matches the file.
Tensor load_npy(const std::string& path, Site site = Site::here());

}  // namespace tl
