#include "server/event_feed.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <future>

#include "tests/storage/rig.h"

namespace siteledger::server {
namespace {

// A stream whose closing tells the feed, as a real connection does (its
// on_close wakes the feed).
class NotifyingWriter final : public StreamWriter {
 public:
  NotifyingWriter(EventFeed& feed, TenantId tenant)
      : feed_(feed), tenant_(tenant) {}
  bool Write(std::string) override { return !closed_; }
  void Close() override {
    closed_ = true;
    feed_.Notify(tenant_);
  }
  bool closed() const override { return closed_; }

 private:
  EventFeed& feed_;
  TenantId tenant_;
  std::atomic<bool> closed_{false};
};

TEST_CASE("A stream subscribed after shutdown is closed without a deadlock",
          "[event_feed]") {
  testing::Rig rig;
  const TenantId t = rig.NewTenant("client-feed");
  EventFeed feed(*rig.log, rig.clock,
                 [](const storage::Event&, bool) { return std::string(); });
  feed.Shutdown();
  auto writer = std::make_shared<NotifyingWriter>(feed, t);
  // Close() calls Notify, which takes the feed's lock: Subscribe must not
  // hold it then.
  auto done = std::async(std::launch::async, [&] {
    feed.Subscribe(t, Sequence(0), writer, rig.clock.Now(), false);
  });
  REQUIRE(done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(writer->closed());
  CHECK(feed.subscribers() == 0);
}

}  // namespace
}  // namespace siteledger::server
