// TensorBoard event files for tl::Run (RunOptions::tensorboard): one file
// `events.out.tfevents.<seconds>.<host>.tl` in the run folder, holding records TensorBoard
// reads: u64 length, u32 masked CRC32C of the length, the serialized Event
// (tensorboard.proto), u32 masked CRC32C of it (little-endian). The first event carries the
// file version; then one event per scalar and per histogram.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tl::track {

// CRC32C masked as TensorBoard's record format wants: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t n);

class EventWriter {
 public:
  // Creates the event file in `folder` and writes its first event. Throws IoError naming the
  // path.
  explicit EventWriter(const std::filesystem::path& folder);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  // Thread-safe. Values are written at once (append); errors are returned, naming the file.
  std::string add_scalar(std::string_view tag, int64_t step, double value, double wall_time);
  // `counts[i]` values in [edges[i], edges[i + 1]); `sum` and `sum_squares` of the values.
  std::string add_histogram(std::string_view tag, int64_t step, double wall_time, const std::vector<double>& edges,
                            const std::vector<int64_t>& counts, double sum, double sum_squares);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::string write_event(const std::string& event);
  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex mutex_;
};

// One record of an event file, as read back (for tests and tools).
struct EventRecord {
  std::string event;  // the serialized Event
  bool crc_ok = false;
};
// Reads every record of an event file; throws IoError for a file that is not whole records.
std::vector<EventRecord> read_event_records(const std::filesystem::path& file);

}  // namespace tl::track
