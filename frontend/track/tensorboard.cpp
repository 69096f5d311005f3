// TensorBoard event files (tensorboard.h).
#include "frontend/track/tensorboard.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>

#include "frontend/io/crc32c.h"
#include "frontend/track/tensorboard.pb.h"
#include "runtime/base/file_io.h"
#include "runtime/base/little_endian.h"
#include "tl/error.h"

namespace tl::track {
namespace {

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t crc = detail::crc32c(data, n);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

EventWriter::EventWriter(const std::filesystem::path& folder) {
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  path_ = folder / ("events.out.tfevents." + std::to_string(static_cast<int64_t>(now)) + "." + host_name() + ".tl");
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) throw IoError("tl::Run: cannot create the TensorBoard event file " + path_.string() + ": " +
                             detail::errno_text(errno));
  tensorboard::Event first;
  first.set_wall_time(now);
  first.set_file_version("brain.Event:2");
  if (std::string error = write_event(first.SerializeAsString()); !error.empty()) throw IoError("tl::Run: " + error);
}

EventWriter::~EventWriter() {
  if (fd_ >= 0) ::close(fd_);
}

std::string EventWriter::write_event(const std::string& event) {
  std::string record;
  record.reserve(event.size() + 16);
  detail::append_le(record, event.size(), 8);
  detail::append_le(record, masked_crc32c(record.data(), 8), 4);
  record += event;
  detail::append_le(record, masked_crc32c(event.data(), event.size()), 4);
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t written = 0;
  if (detail::file_write_all(fd_, record.data(), record.size(), &written) != 0)
    return "cannot write " + path_.string() + ": write failed after " + std::to_string(written) + " of " +
           std::to_string(record.size()) + " bytes: " + detail::errno_text(errno);
  return "";
}

std::string EventWriter::add_scalar(std::string_view tag, int64_t step, double value, double wall_time) {
  tensorboard::Event e;
  e.set_wall_time(wall_time);
  e.set_step(step);
  tensorboard::Summary::Value* v = e.mutable_summary()->add_value();
  v->set_tag(std::string(tag));
  v->set_simple_value(static_cast<float>(value));
  return write_event(e.SerializeAsString());
}

std::string EventWriter::add_histogram(std::string_view tag, int64_t step, double wall_time,
                                       const std::vector<double>& edges, const std::vector<int64_t>& counts,
                                       double sum, double sum_squares) {
  tensorboard::Event e;
  e.set_wall_time(wall_time);
  e.set_step(step);
  tensorboard::Summary::Value* v = e.mutable_summary()->add_value();
  v->set_tag(std::string(tag));
  tensorboard::HistogramProto* h = v->mutable_histo();
  int64_t num = 0;
  for (int64_t c : counts) num += c;
  h->set_min(edges.empty() ? 0 : edges.front());
  h->set_max(edges.empty() ? 0 : edges.back());
  h->set_num(static_cast<double>(num));
  h->set_sum(sum);
  h->set_sum_squares(sum_squares);
  for (size_t i = 0; i < counts.size() && i + 1 < edges.size(); ++i) {
    h->add_bucket_limit(edges[i + 1]);
    h->add_bucket(static_cast<double>(counts[i]));
  }
  return write_event(e.SerializeAsString());
}

std::vector<EventRecord> read_event_records(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError("cannot open the event file " + file.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<EventRecord> records;
  size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 12) throw IoError(file.string() + ": a truncated record header at byte " + std::to_string(at));
    const uint64_t length = detail::load_le(bytes.data() + at, 8);
    const uint32_t length_crc = static_cast<uint32_t>(detail::load_le(bytes.data() + at + 8, 4));
    if (length > bytes.size() - at - 12 || bytes.size() - at - 12 - length < 4)
      throw IoError(file.string() + ": a record at byte " + std::to_string(at) + " runs past the end");
    EventRecord r;
    r.event = bytes.substr(at + 12, length);
    const uint32_t data_crc = static_cast<uint32_t>(detail::load_le(bytes.data() + at + 12 + length, 4));
    r.crc_ok = length_crc == masked_crc32c(bytes.data() + at, 8) && data_crc == masked_crc32c(r.event.data(), length);
    records.push_back(std::move(r));
    at += 12 + length + 4;
  }
  return records;
}

}  // namespace tl::track
