// The pinned host allocator's rules (runtime/cuda/pinned_allocator.h) against a fake source
// whose events complete only when the test says: a block an asynchronous copy used is not
// handed out again while that copy's event is pending.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cuda/launch.h"
#include "runtime/cuda/pinned_allocator.h"
#include "tl/error.h"

using tl::rt::cuda::PinnedAllocator;

namespace {

// Host memory and events under the test's control; `log` lists the calls in order.
class FakeSource : public tl::rt::cuda::PinnedSource {
 public:
  struct Event {
    void* stream = nullptr;
    bool done = true;
    int records = 0;
  };
  ~FakeSource() override {
    for (auto& [p, size] : live) std::free(p);
  }
  void* allocate(size_t bytes) override {
    if (held + bytes > limit) throw tl::DeviceError("fake: out of page-locked memory (" + std::to_string(bytes) + ")");
    void* p = std::aligned_alloc(64, bytes);
    live[p] = bytes;
    held += bytes;
    log.push_back("alloc");
    return p;
  }
  void free(void* p) override {
    held -= live.at(p);
    live.erase(p);
    std::free(p);
    log.push_back("free");
  }
  void* create_event() override {
    events.push_back(std::make_unique<Event>());
    return events.back().get();
  }
  void destroy_event(void*) override { ++destroyed_events; }
  void record_event(void* event, void* stream) override {
    if (fail_records) throw tl::DeviceError("fake: cuEventRecord failed");
    auto* e = static_cast<Event*>(event);
    e->stream = stream;
    e->done = copies_finish_at_once;
    ++e->records;
    log.push_back("record");
  }
  bool event_done(void* event) override { return static_cast<Event*>(event)->done; }
  void synchronize_event(void* event) override {
    static_cast<Event*>(event)->done = true;
    log.push_back("wait");
  }
  void finish_all() {
    for (auto& e : events) e->done = true;
  }

  std::map<void*, size_t> live;
  size_t held = 0, limit = size_t{1} << 30;
  std::vector<std::unique_ptr<Event>> events;
  int destroyed_events = 0;
  bool copies_finish_at_once = false, fail_records = false;
  std::vector<std::string> log;
};

int stream_a, stream_b;  // their addresses are the fake streams

}  // namespace

TEST_CASE("pinned blocks are powers of two from a page", "[pinned]") {
  CHECK(PinnedAllocator::size_class(0) == 4096);
  CHECK(PinnedAllocator::size_class(1) == 4096);
  CHECK(PinnedAllocator::size_class(4096) == 4096);
  CHECK(PinnedAllocator::size_class(4097) == 8192);
  CHECK(PinnedAllocator::size_class((size_t{3} << 20) + 1) == (size_t{4} << 20));
}

TEST_CASE("a freed pinned block that no copy used is reused at once", "[pinned]") {
  FakeSource source;
  PinnedAllocator pinned(source);
  void* p = pinned.allocate(1000);
  CHECK(pinned.is_pinned());
  CHECK(pinned.stats().in_use == 4096);
  pinned.deallocate(p, 1000);
  CHECK(pinned.stats().cached == 4096);
  CHECK(pinned.stats().pending == 0);
  CHECK(pinned.allocate(3000) == p);  // same size class
  const auto s = pinned.stats();
  CHECK(s.host_allocations == 1);
  CHECK(s.cache_hits == 1);
  CHECK(s.allocations == 2);
  CHECK(s.peak_in_use == 4096);
  pinned.deallocate(p, 3000);
}

TEST_CASE("a pinned block is not handed out again while its copy's event is pending", "[pinned]") {
  FakeSource source;
  PinnedAllocator pinned(source);
  char* p = static_cast<char*>(pinned.allocate(5000));
  pinned.record_use(p + 100, &stream_a);  // a copy from inside the block
  REQUIRE(source.events.size() == 1);
  CHECK(source.events[0]->stream == &stream_a);
  CHECK(pinned.stats().async_copies == 1);
  pinned.deallocate(p, 5000);
  CHECK(pinned.stats().pending == 8192);
  CHECK(pinned.stats().cached == 8192);

  // While the copy may still read p, every request of its size gets fresh memory.
  void* q = pinned.allocate(5000);
  void* r = pinned.allocate(8000);
  CHECK(q != p);
  CHECK(r != p);
  CHECK(pinned.stats().host_allocations == 3);
  CHECK(pinned.stats().cache_hits == 0);

  // Once the event completes, p is reused, its event recycled for the next copy.
  source.events[0]->done = true;
  CHECK(pinned.allocate(6000) == p);
  CHECK(pinned.stats().pending == 0);
  CHECK(pinned.stats().cache_hits == 1);
  pinned.record_use(p, &stream_b);
  CHECK(source.events.size() == 1);  // the spare event, not a new one
  CHECK(source.events[0]->stream == &stream_b);
  source.events[0]->done = true;
  for (void* b : {static_cast<void*>(p), q, r}) pinned.deallocate(b, 5000);
}

TEST_CASE("a pinned block used on two streams waits for both; reuse on one stream re-records its event",
          "[pinned]") {
  FakeSource source;
  PinnedAllocator pinned(source);
  void* p = pinned.allocate(100);
  pinned.record_use(p, &stream_a);
  pinned.record_use(p, &stream_a);  // a later copy on the same stream covers the earlier one
  pinned.record_use(p, &stream_b);
  REQUIRE(source.events.size() == 2);
  CHECK(source.events[0]->records == 2);
  pinned.deallocate(p, 100);
  source.events[0]->done = true;  // stream a is done, stream b is not
  void* q = pinned.allocate(100);
  CHECK(q != p);
  source.events[1]->done = true;
  void* r = pinned.allocate(100);
  CHECK(r == p);
  pinned.deallocate(q, 100);
  pinned.deallocate(r, 100);
}

TEST_CASE("queue_copy queues the copy, then records its event, and only for memory the allocator holds",
          "[pinned]") {
  FakeSource source;
  PinnedAllocator pinned(source);
  char* p = static_cast<char*>(pinned.allocate(4096));
  CHECK(pinned.owns(p, 4096));
  CHECK(pinned.owns(p + 4000, 96));
  CHECK_FALSE(pinned.owns(p + 4000, 97));  // runs past the block
  CHECK_FALSE(pinned.owns(p + 4096, 1));
  char pageable[64];
  int queued = 0;
  auto queue = [&](void* stream) {
    CHECK(stream == &stream_a);
    source.log.push_back("copy");
    ++queued;
  };
  tl::rt::cuda::set_current_stream(&stream_a);
  CHECK_FALSE(pinned.queue_copy(pageable, sizeof pageable, queue));
  CHECK_FALSE(pinned.queue_copy(p, 0, queue));
  CHECK(queued == 0);
  source.log.clear();
  CHECK(pinned.queue_copy(p + 64, 128, queue));
  tl::rt::cuda::set_current_stream(nullptr);
  CHECK(queued == 1);
  // The event is recorded behind the copy: recorded before it, it could complete first.
  CHECK(source.log == std::vector<std::string>{"copy", "record"});
  pinned.deallocate(p, 4096);
  CHECK_FALSE(pinned.owns(p, 1));  // freed memory is not a pinned source any more
  CHECK_FALSE(pinned.queue_copy(p, 16, queue));
  CHECK(queued == 1);
}

TEST_CASE("out of pinned memory, the allocator waits for pending copies, returns its cache and retries",
          "[pinned]") {
  FakeSource source;
  source.limit = 3 * 4096;
  PinnedAllocator pinned(source);
  void* a = pinned.allocate(4096);
  void* b = pinned.allocate(4096);
  void* c = pinned.allocate(4096);
  pinned.record_use(a, &stream_a);
  pinned.deallocate(a, 4096);  // pending
  pinned.deallocate(b, 4096);  // free
  source.log.clear();
  void* d = pinned.allocate(8192);  // 8 KiB: neither cached block fits; the source is full
  CHECK(source.log == std::vector<std::string>{"wait", "free", "free", "alloc"});
  CHECK(pinned.stats().cached == 0);
  CHECK(pinned.stats().pending == 0);
  CHECK(pinned.stats().cache_releases == 1);
  // Still too much: a DeviceError naming the request and what tensors hold.
  try {
    (void)pinned.allocate(1 << 20);
    FAIL("no error");
  } catch (const tl::DeviceError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("out of pinned host memory allocating 1048576 bytes"));
    CHECK_THAT(what, Catch::Contains("holds 12288 bytes in use"));
  }
  CHECK(pinned.stats().in_use == 3 * 4096);
  CHECK_THROWS_WITH(pinned.allocate(size_t{1} << 63), Catch::Contains("9223372036854775808 bytes"));
  pinned.deallocate(c, 4096);
  pinned.deallocate(d, 8192);
}

TEST_CASE("empty_cache waits for pending copies and returns every block no tensor holds", "[pinned]") {
  FakeSource source;
  auto pinned = std::make_unique<PinnedAllocator>(source);
  void* kept = pinned->allocate(100);
  void* used = pinned->allocate(100);
  void* idle = pinned->allocate(20000);
  pinned->record_use(used, &stream_a);
  pinned->deallocate(used, 100);
  pinned->deallocate(idle, 20000);
  pinned->empty_cache();
  CHECK(source.events[0]->done);  // waited for
  CHECK(source.live.size() == 1);
  CHECK(source.live.count(kept) == 1);
  CHECK(pinned->stats().cached == 0);
  CHECK(pinned->stats().in_use == 4096);
  pinned->deallocate(kept, 100);
  void* again = pinned->allocate(1);
  CHECK(again == kept);
  pinned->record_use(again, &stream_b);
  pinned->deallocate(again, 1);
  pinned.reset();  // the destructor waits for the copy, returns the block and destroys the event
  CHECK(source.live.empty());
  CHECK(source.log.back() == "free");
  CHECK(source.destroyed_events == 1);
}

TEST_CASE("a block whose copy event could not be recorded is never handed out again", "[pinned]") {
  FakeSource source;
  PinnedAllocator pinned(source);
  void* p = pinned.allocate(100);
  source.fail_records = true;
  CHECK_THROWS_AS(pinned.record_use(p, &stream_a), tl::DeviceError);
  source.fail_records = false;
  pinned.deallocate(p, 100);
  CHECK(pinned.stats().in_use == 0);
  CHECK(pinned.stats().cached == 0);
  CHECK(pinned.allocate(100) != p);  // the copy may still be using p
  CHECK(source.live.count(p) == 1);  // nor is it freed under the copy
}
