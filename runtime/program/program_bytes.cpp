// tl::load_program_bytes: an artifact already in memory (tlc's verified input, the model inside
// an emitted executable or library) handed to tl::load_program as an anonymous in-memory
// file (memfd_create, read back through /proc/self/fd/N), so both verify the same way.
#include "tl/program.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "runtime/artifact/artifact.h"
#include "runtime/base/file_io.h"

namespace tl {
namespace {

// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// A file descriptor holding `bytes`, positioned anywhere (the loader reads by offset).
int anonymous_file(std::string_view bytes, const std::string& name) {
  int fd = ::memfd_create("tl-artifact", MFD_CLOEXEC);
  if (fd < 0) {
    // No memfd (an old kernel, a seccomp filter): a temporary, unlinked at once.
    std::error_code ec;
    std::string tmp = (std::filesystem::temp_directory_path(ec) / "tl-artifact-XXXXXX").string();
    fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0)
      throw IoError("tl artifact '" + name + "': cannot create an in-memory file (memfd_create) or a temporary (" +
                    tmp + "): " + detail::errno_text(errno));
    ::unlink(tmp.c_str());
  }
  if (detail::file_pwrite_all(fd, bytes.data(), bytes.size(), 0) != 0) {
    int err = errno;
    ::close(fd);
    throw IoError("tl artifact '" + name + "': cannot copy " + std::to_string(bytes.size()) +
                  " bytes to an in-memory file: " + detail::errno_text(err));
  }
  return fd;
}

}  // namespace

Program load_program_bytes(std::string_view bytes, const std::string& name, const ProgramLoadOptions& options) {
  Fd file{anonymous_file(bytes, name)};
  const std::string path = "/proc/self/fd/" + std::to_string(file.fd);
  try {
    return load_program(path, options);
  } catch (const rt::ArtifactError& e) {
    throw rt::ArtifactError(replace_all(e.what(), path, name));
  } catch (const IoError& e) {
    throw IoError(replace_all(e.what(), path, name));
  } catch (const DeviceError& e) {
    throw DeviceError(replace_all(e.what(), path, name));
  } catch (const ValueError& e) {
    throw ValueError(replace_all(e.what(), path, name));
  }
}

}  // namespace tl
