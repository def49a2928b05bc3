// Erasing people by account id (POST /admin/users/erase).

#include "server/internal/erase_users.h"

#include <pthread.h>

#include <set>

#include "projections/commands.h"
#include "projections/schema.h"
#include "server/internal/request_parts.h"
#include "server/log.h"
#include "server/problem.h"

namespace siteledger::server {
namespace {

using projections::Json;
using storage::ResidencyState;

// The body, {"accountIds":[...]}, every id checked and duplicates merged.
// InvalidArgument names the JSON path at fault, never an id; TooLarge past
// kMaxEraseAccounts. Nothing is erased unless all of it is right.
Result<std::vector<std::string>> AccountIdsOf(const Call& call) {
  projections::JsonLimits limits;
  // The bound below, not the parser's, says how many ids may come.
  limits.max_array_items = size_t{1} << 20;
  auto body = JsonBodyOf(call, BodyUse::kRequired, limits);
  if (!body) return Err(body.error());
  for (const auto& [name, value] : body->as_object()) {
    if (name != "accountIds") {
      return Err(Status::InvalidArgument(
          "$." + name +
          ": unknown field; the body is {\"accountIds\":[\"...\"]}"));
    }
  }
  const Json* ids = body->Find("accountIds");
  if (ids == nullptr || !ids->is_array()) {
    return Err(Status::InvalidArgument(
        "$.accountIds: an array of Atlassian account ids is required"));
  }
  const Json::Array& items = ids->as_array();
  if (items.empty()) {
    return Err(Status::InvalidArgument("$.accountIds: no account id given"));
  }
  if (items.size() > kMaxEraseAccounts) {
    return Err(Status::TooLarge(
        "$.accountIds: at most " + std::to_string(kMaxEraseAccounts) +
        " account ids in one request (this one has " +
        std::to_string(items.size()) + "); send them in batches"));
  }
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = "$.accountIds[" + std::to_string(i) + "]";
    if (!items[i].is_string()) {
      return Err(Status::InvalidArgument(path + ": expected a string"));
    }
    const std::string& id = items[i].as_string();
    if (Status s = projections::schema::CheckAccountId(id); !s.ok()) {
      return Err(s.WithContext(path));
    }
    if (seen.insert(id).second) out.push_back(id);
  }
  return out;
}

}  // namespace

// What one request erased. The appends complete on the commit thread.
struct EraseUsersApi::Outcome {
  struct Erasure {
    TenantId tenant;
    std::string client_key;
    std::string pseudonym;
    bool copy = false;  // a copy homed elsewhere: rows only, no event
  };

  Mutex mu;
  CondVar cv;
  uint64_t erased GUARDED_BY(mu) = 0;     // (tenant, account) mappings
  uint64_t not_found GUARDED_BY(mu) = 0;  // accounts no tenant here holds
  uint64_t deferred GUARDED_BY(mu) = 0;   // mappings of tenants changing home
  std::set<TenantId> tenants GUARDED_BY(mu);  // whose rows were deleted
  std::vector<Erasure> erasures GUARDED_BY(mu);
  size_t pending GUARDED_BY(mu) = 0;  // appends not answered yet
  Status failure GUARDED_BY(mu);      // the first error

  void Fail(Status s) REQUIRES(mu) {
    if (failure.ok()) failure = std::move(s);
  }
};

EraseUsersApi::EraseUsersApi(Deps deps) : d_(std::move(deps)) {
  worker_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sl-erase");
    Loop();
  });
}

EraseUsersApi::~EraseUsersApi() { Shutdown(); }

void EraseUsersApi::Shutdown() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  if (worker_.joinable()) worker_.join();
}

void EraseUsersApi::Serve(const CallPtr& call) {
  auto ids = AccountIdsOf(*call);
  if (!ids) return d_.finisher.Fail(call, ids.error());
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      queue_.push_back(Job{call, std::move(*ids)});
      cv_.Signal();
      return;
    }
  }
  d_.finisher.Fail(call, Status::Unavailable("the server is shutting down"));
}

void EraseUsersApi::Loop() {
  for (;;) {
    Job job;
    {
      MutexLock lock(mu_);
      while (!stopping_ && queue_.empty()) cv_.Wait(mu_);
      if (stopping_) break;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Run(job);
  }
  // Stopping: what waits is not started.
  std::deque<Job> left;
  {
    MutexLock lock(mu_);
    left.swap(queue_);
  }
  for (Job& job : left) {
    Finisher::Later(job.call, [this, call = job.call] {
      d_.finisher.Fail(call,
                       Status::Unavailable("the server is shutting down"));
    });
  }
}

Status EraseUsersApi::EraseAccount(const std::string& account_id,
                                   const std::shared_ptr<Outcome>& shared) {
  Outcome& outcome = *shared;
  storage::Store& store = d_.store;
  auto tenants = store.log().TenantsOfAccount(account_id);
  if (!tenants) return tenants.error();
  bool held = false;
  for (TenantId t : *tenants) {
    auto rec = store.registry().Get(t);
    if (!rec && rec.error().code() != StatusCode::kNotFound) {
      return rec.error();
    }
    if (!rec || rec->residency.state == ResidencyState::kGone) {
      // A tenant purged without its index entries (they go with its
      // purge): drop them now.
      auto dropped = store.log().DropAccountIndex(t);
      if (!dropped) return dropped.error();
      continue;
    }
    if (rec->state == storage::LifecycleState::kPurged) {
      continue;  // its purge is under way and drops the entries
    }
    if (rec->home_region == d_.config.region && rec->residency.writable()) {
      // The home copy: the erasure is an event of its log, in the append
      // that deletes the rows, let in as the tenant's own writes are.
      Call probe;
      probe.tenant = t;
      probe.record = std::make_shared<const storage::TenantRecord>(*rec);
      auto ticket = d_.admit_write(probe);
      held = true;
      if (!ticket) {
        MutexLock lock(outcome.mu);
        ++outcome.deferred;
        continue;
      }
      projections::Command c;
      c.type = projections::CommandType::kEraseUser;
      c.subject = account_id;
      {
        MutexLock lock(outcome.mu);
        ++outcome.pending;
      }
      d_.projector.Execute(
          t, std::move(c),
          [this, shared, t, client_key = rec->client_key,
           ticket = std::move(*ticket)](
              Result<projections::CommandResult> result) mutable {
            ticket.reset();
            if (result) d_.feed.Notify(t);
            Outcome& o = *shared;
            MutexLock lock(o.mu);
            if (result && result->entity) {
              ++o.erased;
              o.tenants.insert(t);
              o.erasures.push_back(
                  {t, std::move(client_key), result->entity->id, false});
            } else if (!result &&
                       result.error().code() != StatusCode::kNotFound) {
              // NotFound: another erasure of the account came first.
              o.Fail(result.error());
            }
            --o.pending;
            o.cv.Signal();
          });
      continue;
    }
    if (rec->residency.state == ResidencyState::kMoved ||
        rec->residency.state == ResidencyState::kIncoming) {
      // A copy homed elsewhere: its log is its home's, where the account
      // is erased (and from there, through the log, every copy that
      // imports it); here only the rows go.
      auto pseudonym = d_.projector.ErasePseudonymRows(t, account_id);
      if (!pseudonym) return pseudonym.error();
      if (!*pseudonym) continue;
      held = true;
      MutexLock lock(outcome.mu);
      ++outcome.erased;
      outcome.tenants.insert(t);
      outcome.erasures.push_back({t, rec->client_key, **pseudonym, true});
      continue;
    }
    // A cutover or a rollback hands the tenant over: no write may land
    // now. The operator asks again once it is over.
    held = true;
    MutexLock lock(outcome.mu);
    ++outcome.deferred;
  }
  if (!held) {
    MutexLock lock(outcome.mu);
    ++outcome.not_found;
  }
  return Status::Ok();
}

void EraseUsersApi::Run(Job& job) {
  const CallPtr& call = job.call;
  auto shared = std::make_shared<Outcome>();
  Status failure;
  for (const std::string& id : job.account_ids) {
    failure = EraseAccount(id, shared);
    if (!failure.ok()) break;
  }
  // The appends answered, what they did is read once.
  uint64_t erased, not_found, deferred;
  std::vector<TenantId> tenants;
  std::vector<Outcome::Erasure> erasures;
  {
    Outcome& outcome = *shared;
    MutexLock lock(outcome.mu);
    while (outcome.pending > 0) outcome.cv.Wait(outcome.mu);
    if (failure.ok()) failure = outcome.failure;
    erased = outcome.erased;
    not_found = outcome.not_found;
    deferred = outcome.deferred;
    tenants.assign(outcome.tenants.begin(), outcome.tenants.end());
    erasures = std::move(outcome.erasures);
  }

  // The deleted rows' old values leave the table and WAL files.
  uint64_t files_left = 0;
  if (!tenants.empty()) {
    auto left = d_.store.ScrubPseudonyms(tenants);
    if (left) {
      files_left = *left;
    } else if (failure.ok()) {
      failure = left.error();
    }
  }

  // Per tenant the pseudonym erased, and the counts: never an account id.
  const std::string actor = call->op != nullptr ? call->op->name : "";
  auto audit = [&](storage::AuditRecord r) {
    r.actor = actor;
    r.reason = call->reason;
    r.route = call->route_label;
    if (auto id = d_.store.audit().Append(std::move(r)); !id && failure.ok()) {
      failure = id.error();
    }
  };
  for (const Outcome::Erasure& e : erasures) {
    storage::AuditRecord r;
    r.action = "user.erased";
    r.tenant = e.tenant;
    r.client_key = e.client_key;
    r.outcome = "ok";
    r.detail = "pseudonym " + e.pseudonym +
               (e.copy ? " (a copy homed elsewhere: its rows, no event)" : "");
    audit(std::move(r));
  }
  {
    storage::AuditRecord r;
    r.action = "operator.erase-users";
    r.outcome = failure.ok() ? "ok" : failure.ToString();
    r.detail = std::to_string(job.account_ids.size()) +
               " account ids: " + std::to_string(erased) + " erased in " +
               std::to_string(tenants.size()) + " tenants, " +
               std::to_string(not_found) + " not found, " +
               std::to_string(deferred) + " deferred";
    audit(std::move(r));
  }
  Log(failure.ok() ? "info" : "error", "users erased",
      {{"requested", static_cast<long long>(job.account_ids.size())},
       {"erased", static_cast<long long>(erased)},
       {"not_found", static_cast<long long>(not_found)},
       {"deferred", static_cast<long long>(deferred)},
       {"files_left", static_cast<long long>(files_left)},
       {"error", failure.ok() ? std::string() : failure.ToString()}});
  Json answer = Json::MakeObject();
  answer.Set("requested", static_cast<uint64_t>(job.account_ids.size()));
  answer.Set("erased", erased);
  answer.Set("notFound", not_found);
  answer.Set("deferred", deferred);
  answer.Set("tenants", static_cast<uint64_t>(tenants.size()));
  Finisher::Later(call, [this, call, failure = std::move(failure),
                         answer = std::move(answer)] {
    if (!failure.ok()) return d_.finisher.Fail(call, failure);
    d_.finisher.Finish(call, JsonResponse(200, answer));
  });
}

}  // namespace siteledger::server
