#pragma once

// POST /admin/users/erase: erasing people by Atlassian account id from
// every tenant of the region (docs/architecture.md, "Erasing users").

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "projections/projector.h"
#include "server/config.h"
#include "server/event_feed.h"
#include "server/internal/call.h"
#include "server/internal/finisher.h"
#include "storage/base/mutex.h"
#include "storage/store.h"

namespace siteledger::server {

// The most account ids one request may name.
inline constexpr size_t kMaxEraseAccounts = 1000;

// Erases people from the region, by account id: in every tenant the
// account index names for an id, the rows mapping it to its pseudonym and
// its index entry are deleted, in the tenant's home copy with a
// `user.erased` event in the same append (its views then show the user
// erased), in a copy homed elsewhere (frozen after a move, or arriving)
// without one; then the deleted rows are compacted out of every file.
// Account ids are never written anywhere: not in a log line, an audit
// record (which carry counts, and per tenant the pseudonym erased) or an
// answer. Erasures run one at a time on a thread of their own
// (`sl-erase`). Everything it is given must outlive it. Safe for
// concurrent use.
class EraseUsersApi {
 public:
  struct Deps {
    storage::Store& store;
    projections::Projector& projector;
    EventFeed& feed;
    Finisher& finisher;
    const Config& config;
    // Lets a write of `call.tenant` (its record in `call.record`) in, as
    // the tenant API's writes are: a ticket held until the append is
    // answered, or Unavailable while the tenant changes home.
    std::function<Result<std::shared_ptr<void>>(const Call& call)> admit_write;
  };
  explicit EraseUsersApi(Deps deps);
  // Shutdown.
  ~EraseUsersApi();
  EraseUsersApi(const EraseUsersApi&) = delete;
  EraseUsersApi& operator=(const EraseUsersApi&) = delete;

  // Serves the route for an authenticated operator (call->op set). The body
  // is checked here, whole, before anything is erased: 400 or 413 erase
  // nothing. The erasure itself is answered later, from the erasure thread
  // (through the call's strand). Call from an HTTP thread.
  void Serve(const CallPtr& call);

  // Finishes the erasure under way, answers those still queued with 503,
  // and stops the thread. Before the event log stops. Any thread but the
  // erasure thread; idempotent.
  void Shutdown();

 private:
  struct Job {
    CallPtr call;
    std::vector<std::string> account_ids;  // distinct, checked
  };
  struct Outcome;

  void Loop();
  void Run(Job& job);
  // Erases one account from every tenant holding it, into `outcome` (the
  // appends' callbacks share it).
  Status EraseAccount(const std::string& account_id,
                      const std::shared_ptr<Outcome>& outcome);

  Deps d_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Job> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace siteledger::server
