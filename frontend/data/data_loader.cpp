// DataLoader: batches in a per-epoch Philox order, optional background prefetch, and its
// position saved as JSON for checkpoints.
#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "frontend/io/json_limits.h"
#include "runtime/cpu/philox.h"
#include "tl/cuda.h"
#include "tl/data.h"

namespace tl::data {

// Workers claim batch indices in increasing order, at most `window` ahead of the consumer,
// and park finished batches by index; the consumer takes them in order. So the batches and
// their order are those of the serial path, whatever the thread timing.
struct DataLoader::Prefetcher {
  const DataLoader& loader;
  std::vector<int64_t> order;
  int64_t end_batch;
  int64_t window;
  std::mutex mu;
  std::condition_variable cv;
  std::map<int64_t, std::pair<Batch, std::exception_ptr>> ready;
  int64_t next_claim;
  int64_t consumer_next;
  bool stop = false;
  std::vector<std::thread> threads;

  Prefetcher(const DataLoader& l, std::vector<int64_t> o, int64_t start, int64_t end, int workers)
      : loader(l), order(std::move(o)), end_batch(end), window(2 * static_cast<int64_t>(workers)),
        next_claim(start), consumer_next(start) {
    for (int i = 0; i < workers; ++i) threads.emplace_back([this] { work(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (std::thread& t : threads) t.join();
  }

  void work() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || next_claim >= end_batch || next_claim < consumer_next + window; });
      if (stop || next_claim >= end_batch) return;
      int64_t k = next_claim++;
      lock.unlock();
      std::pair<Batch, std::exception_ptr> item;
      try {
        item.first = loader.make_batch(order, k);
      } catch (...) {
        item.second = std::current_exception();
      }
      lock.lock();
      ready.emplace(k, std::move(item));
      cv.notify_all();
    }
  }

  Batch take(int64_t k) {
    std::unique_lock<std::mutex> lock(mu);
    consumer_next = k;
    cv.notify_all();
    cv.wait(lock, [&] { return ready.count(k) > 0; });
    auto item = std::move(ready[k]);
    ready.erase(k);
    consumer_next = k + 1;
    cv.notify_all();
    if (item.second) std::rethrow_exception(item.second);
    return std::move(item.first);
  }
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options, Site site)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  const std::string where = " at " + site.str();
  if (!dataset_) throw ValueError("tl::data::DataLoader: the dataset is null" + where);
  if (options_.batch_size < 1)
    throw ValueError("tl::data::DataLoader: batch_size must be >= 1, got " + std::to_string(options_.batch_size) +
                     where);
  if (options_.num_workers < 0)
    throw ValueError("tl::data::DataLoader: num_workers must be >= 0, got " +
                     std::to_string(options_.num_workers) + where);
  if (options_.device.type == DeviceType::kCUDA && !cuda_device::is_available())
    throw DeviceError("tl::data::DataLoader: device " + options_.device.str() +
                      " is not available (tl::cuda_device::is_available() is false)" + where);
  if (options_.pin_memory.value_or(false) && !cuda_device::is_available())
    throw DeviceError("tl::data::DataLoader: pin_memory = true needs a CUDA device, and none is available "
                      "(tl::cuda_device::is_available() is false; leave pin_memory unset or false)" + where);
  if (options_.seed) {
    seed_ = *options_.seed;
  } else {
    // One Philox block of the default generator, so tl::manual_seed fixes the loader's seed.
    Generator& g = default_generator();
    uint64_t offset = g.advance(1);
    uint32_t w[4];
    rt::Philox4x32::generate(g.state().seed, offset, w);
    seed_ = (static_cast<uint64_t>(w[0]) << 32) | w[1];
  }
}

DataLoader::~DataLoader() { stop_prefetch(); }

void DataLoader::stop_prefetch() { prefetcher_.reset(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  const int64_t n = dataset_->size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  if (!options_.shuffle) return order;
  // Fisher-Yates with one Philox block per swap at counter epoch * n + i: the order is a
  // pure function of (seed, epoch), and epochs use disjoint counters.
  const uint64_t base = static_cast<uint64_t>(epoch) * static_cast<uint64_t>(n);
  uint32_t w[4];
  for (int64_t i = n - 1; i > 0; --i) {
    rt::Philox4x32::generate(seed_, base + static_cast<uint64_t>(i), w);
    uint64_t r = (static_cast<uint64_t>(w[0]) << 32) | w[1];
    std::swap(order[static_cast<size_t>(i)], order[r % static_cast<uint64_t>(i + 1)]);
  }
  return order;
}

Batch DataLoader::make_batch(const std::vector<int64_t>& order, int64_t batch_index) const {
  const int64_t b = options_.batch_size, n = static_cast<int64_t>(order.size());
  const int64_t start = batch_index * b, stop = std::min(start + b, n);
  Batch batch = dataset_->get_batch(std::vector<int64_t>(order.begin() + start, order.begin() + stop));
  // PyTorch users pin for a GPU and nothing else; so does the default.
  const bool pin = options_.pin_memory.value_or(options_.device.type == DeviceType::kCUDA);
  for (Tensor* t : {&batch.x, &batch.y}) {
    if (!t->defined()) continue;
    if (pin && t->device() == kCPU) *t = t->pin_memory();
    // The pinned source may be dropped at once: the pinned allocator keeps its block until
    // the queued copy has read it.
    if (options_.device != kCPU) *t = t->to(options_.device, pin);
  }
  return batch;
}

Batch DataLoader::next_batch() {
  if (order_epoch_ != epoch_) {
    stop_prefetch();
    order_ = epoch_order(epoch_);
    order_epoch_ = epoch_;
  }
  Batch batch;
  if (options_.num_workers > 0) {
    if (!prefetcher_)
      prefetcher_ = std::make_unique<Prefetcher>(*this, order_, position_, num_batches(), options_.num_workers);
    batch = prefetcher_->take(position_);
  } else {
    batch = make_batch(order_, position_);
  }
  ++position_;
  return batch;
}

DataLoader::Iterator DataLoader::begin() {
  stop_prefetch();
  const int64_t nb = num_batches();
  if (nb == 0) return end();
  if (position_ >= nb) {
    ++epoch_;
    position_ = 0;
  }
  Iterator it;
  it.batch_ = next_batch();
  it.loader_ = this;
  return it;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  DataLoader& l = *loader_;
  if (l.position_ >= l.num_batches()) {
    l.stop_prefetch();
    ++l.epoch_;
    l.position_ = 0;
    loader_ = nullptr;
    batch_ = {};
  } else {
    batch_ = l.next_batch();
  }
  return *this;
}

void DataLoader::set_epoch(int64_t epoch) {
  if (epoch < 0) throw ValueError("tl::data::DataLoader::set_epoch: epoch must be >= 0, got " + std::to_string(epoch));
  stop_prefetch();
  epoch_ = epoch;
  position_ = 0;
}

std::string DataLoader::save_state() const {
  nlohmann::json j = {
      {"epoch", epoch_},
      {"position", position_},
      {"generator", {{"seed", seed_}, {"offset", static_cast<uint64_t>(epoch_) * static_cast<uint64_t>(dataset_->size())}}},
      {"dataset_size", dataset_->size()},
      {"batch_size", options_.batch_size},
      {"shuffle", options_.shuffle},
      {"drop_last", options_.drop_last},
  };
  return j.dump();
}

void DataLoader::load_state(const std::string& text) {
  const std::string who = "tl::data::DataLoader::load_state ('" + options_.name + "'): ";
  int64_t epoch, position, dataset_size, batch_size;
  uint64_t seed;
  bool shuffle, drop_last;
  // Refused before the JSON library sees it: a deeply nested document overflows its stack.
  detail::check_json_nesting(text, who + "the saved state");
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    epoch = j.at("epoch").get<int64_t>();
    position = j.at("position").get<int64_t>();
    seed = j.at("generator").at("seed").get<uint64_t>();
    dataset_size = j.at("dataset_size").get<int64_t>();
    batch_size = j.at("batch_size").get<int64_t>();
    shuffle = j.at("shuffle").get<bool>();
    drop_last = j.at("drop_last").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(who + "not a data loader state: " + e.what());
  }
  auto mismatch = [&](const char* what, const std::string& saved, const std::string& now) {
    throw Error(who + "the state was saved with " + what + " = " + saved + " but this loader has " + now);
  };
  if (dataset_size != dataset_->size())
    mismatch("dataset size", std::to_string(dataset_size), std::to_string(dataset_->size()));
  if (batch_size != options_.batch_size)
    mismatch("batch_size", std::to_string(batch_size), std::to_string(options_.batch_size));
  if (shuffle != options_.shuffle) mismatch("shuffle", shuffle ? "true" : "false", options_.shuffle ? "true" : "false");
  if (drop_last != options_.drop_last)
    mismatch("drop_last", drop_last ? "true" : "false", options_.drop_last ? "true" : "false");
  if (epoch < 0 || position < 0 || position > num_batches())
    throw Error(who + "epoch " + std::to_string(epoch) + ", position " + std::to_string(position) +
                " is out of range (" + std::to_string(num_batches()) + " batches per epoch)");
  stop_prefetch();
  seed_ = seed;
  epoch_ = epoch;
  position_ = position;
  order_epoch_ = -1;
}

}  // namespace tl::data
