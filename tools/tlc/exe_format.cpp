// Writing and reading the executables tlc emits (exe_format.h).
#include "tools/tlc/exe_format.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "runtime/base/file_io.h"
#include "runtime/base/little_endian.h"
#include "tl/error.h"

namespace tl::tlc {
namespace {

// Settings longer than this are not settings: the trailer is damaged or forged.
constexpr uint64_t kMaxSettingsBytes = 4096;

std::string format_settings(const ExeSettings& s) {
  std::string out;
  if (s.threads > 0) out += "threads=" + std::to_string(s.threads) + "\n";
  if (s.batch > 0) out += "batch=" + std::to_string(s.batch) + "\n";
  return out;
}

// Parses format_settings' output; returns why it cannot, or "".
std::string parse_settings(std::string_view text, ExeSettings* s) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (end == std::string_view::npos) return "the settings do not end with a newline";
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    size_t eq = line.find('=');
    std::string_view key = line.substr(0, eq), value = eq == std::string_view::npos ? "" : line.substr(eq + 1);
    if (key == "threads") {
      int n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1)
        return "the setting 'threads' has the value '" + std::string(value.substr(0, 32)) + "', not a positive integer";
      s->threads = n;
    } else if (key == "batch") {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < 1)
        return "the setting 'batch' has the value '" + std::string(value.substr(0, 32)) + "', not a positive integer";
      s->batch = n;
    } else {
      return "unknown setting '" + std::string(key.substr(0, 32)) + "' (written by a newer tlc?)";
    }
  }
  return "";
}

}  // namespace

bool has_exe_trailer(std::string_view bytes) {
  return bytes.size() >= kExeTrailerBytes &&
         std::memcmp(bytes.data() + bytes.size() - kExeTrailerBytes, kExeMagic, sizeof(kExeMagic)) == 0;
}

uint64_t write_exe(const std::string& path, std::string_view runner, std::string_view artifact,
                   const ExeSettings& settings) {
  const uint64_t offset = (runner.size() + kExeArtifactAlignment - 1) / kExeArtifactAlignment * kExeArtifactAlignment;
  const std::string extra = format_settings(settings);
  const uint64_t total = offset + artifact.size() + extra.size() + kExeTrailerBytes;
  char trailer[kExeTrailerBytes];
  std::memcpy(trailer, kExeMagic, sizeof(kExeMagic));
  detail::store_le(trailer + 8, offset, 8);
  detail::store_le(trailer + 16, artifact.size(), 8);
  static const char zeros[kExeArtifactAlignment] = {};
  {
    detail::AtomicFile file(path, "tlc executable", total, Site{}, 0755);
    file.write(runner);
    file.write(zeros, offset - runner.size());
    file.write(artifact);
    file.write(extra);
    file.write(trailer, sizeof(trailer));
    file.commit();
  }
  // The umask may have masked the mode given at creation.
  if (::chmod(path.c_str(), 0755) != 0)
    throw IoError("tlc executable: '" + path + "' was written, but chmod 0755 failed: " + detail::errno_text(errno));
  return total;
}

EmbeddedModel read_embedded_model(const std::string& exe_path) {
  detail::FileReader file(exe_path, "tl model executable", Site{});
  const uint64_t size = file.size();
  if (size < kExeTrailerBytes)
    file.fail("it has " + std::to_string(size) + " bytes, fewer than the " + std::to_string(kExeTrailerBytes) +
              "-byte TLEXE trailer");
  char trailer[kExeTrailerBytes];
  file.read_at(size - kExeTrailerBytes, trailer, sizeof(trailer));
  if (std::memcmp(trailer, kExeMagic, sizeof(kExeMagic)) != 0)
    file.fail("no model is embedded in it (its last 24 bytes are not a TLEXE trailer); this is a bare "
              "tl-model-runner: make a model executable with `tlc model.tlart -o model`");
  EmbeddedModel m;
  m.offset = detail::load_le(trailer + 8, 8);
  const uint64_t bytes = detail::load_le(trailer + 16, 8);
  const uint64_t body = size - kExeTrailerBytes;
  uint64_t end = 0;
  if (__builtin_add_overflow(m.offset, bytes, &end) || end > body)
    file.fail("its TLEXE trailer puts the artifact at bytes [" + std::to_string(m.offset) + ", +" +
              std::to_string(bytes) + "), past the " + std::to_string(body) + " bytes before the trailer (truncated?)");
  if (body - end > kMaxSettingsBytes)
    file.fail("it has " + std::to_string(body - end) + " bytes between the artifact and the trailer (at most " +
              std::to_string(kMaxSettingsBytes) + " bytes of settings)");
  std::string extra(body - end, '\0');
  file.read_at(end, extra.data(), extra.size());
  if (std::string why = parse_settings(extra, &m.settings); !why.empty()) file.fail(why);
  m.artifact.resize(bytes);
  file.read_at(m.offset, m.artifact.data(), bytes);
  return m;
}

}  // namespace tl::tlc
