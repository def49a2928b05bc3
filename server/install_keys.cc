#include "server/internal/install_keys.h"

#include <utility>

#include "server/http_client.h"
#include "server/log.h"

namespace siteledger::server {

bool InstallKeys::ValidKid(std::string_view kid) {
  if (kid.empty() || kid.size() > 200) return false;
  for (char c : kid) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

InstallKeys::InstallKeys(std::string url) : url_(std::move(url)) {
  threads_.reserve(kThreads);
  for (size_t i = 0; i < kThreads; ++i) {
    threads_.emplace_back([this] { Run(); });
  }
}

InstallKeys::~InstallKeys() { Shutdown(); }

void InstallKeys::Get(std::string_view kid_view, Done done) {
  const std::string kid(kid_view);
  Result<std::string> now;
  {
    MutexLock lock(mu_);
    if (stopping_) {
      now = Err(Status::Unavailable("the server is shutting down"));
    } else if (auto hit = cache_.find(kid);
               hit != cache_.end() &&
               std::chrono::steady_clock::now() < hit->second.expires) {
      now = hit->second.pem;
    } else if (auto pending = waiting_.find(kid); pending != waiting_.end()) {
      if (pending->second.size() >= kMaxWaitersPerKid) {
        now = Err(Status::Unavailable(
            "too many requests wait for this install key; try again "
            "shortly"));
      } else {
        pending->second.push_back(std::move(done));
        return;
      }
    } else if (waiting_.size() >= kMaxFetches) {
      now = Err(Status::Unavailable(
          "too many install keys are being fetched; try again shortly"));
    } else {
      waiting_[kid].push_back(std::move(done));
      queue_.push_back(kid);
      queued_.Signal();
      return;
    }
  }
  done(std::move(now));
}

void InstallKeys::Shutdown() {
  std::vector<Done> waiters;
  {
    MutexLock lock(mu_);
    stopping_ = true;
    for (auto& [kid, list] : waiting_) {
      for (Done& d : list) waiters.push_back(std::move(d));
    }
    waiting_.clear();
    queue_.clear();
  }
  cancel_ = true;
  queued_.SignalAll();
  for (Done& d : waiters) {
    d(Err(Status::Unavailable("the server is shutting down")));
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void InstallKeys::Run() {
  for (;;) {
    std::string kid;
    {
      MutexLock lock(mu_);
      while (!stopping_ && queue_.empty()) queued_.Wait(mu_);
      if (stopping_) return;
      kid = std::move(queue_.front());
      queue_.pop_front();
    }
    Result<std::string> pem = FetchKey(kid);
    std::vector<Done> waiters;
    {
      MutexLock lock(mu_);
      // After Shutdown the waiters have been answered already.
      if (stopping_) return;
      Remember(kid, pem);
      if (auto it = waiting_.find(kid); it != waiting_.end()) {
        waiters = std::move(it->second);
        waiting_.erase(it);
      }
    }
    for (Done& d : waiters) d(pem);
  }
}

Result<std::string> InstallKeys::FetchKey(const std::string& kid) {
  OutboundRequest request;
  request.url = url_ + "/" + kid;
  request.timeout = kFetchTimeout;
  request.max_response_bytes = kMaxKeyBytes;
  request.cancel = &cancel_;
  auto fetched = Fetch(request);
  if (!fetched) {
    Log("warn", "fetching an install key failed",
        {{"kid", kid}, {"error", fetched.error().message()}});
    return Err(
        Status::Unavailable("the install key server could not be reached"));
  }
  if (fetched->status == 200) return std::move(fetched->body);
  Log("warn", "the install key server has no key for the kid",
      {{"kid", kid}, {"status", static_cast<int>(fetched->status)}});
  if (fetched->status >= 400 && fetched->status < 500) {
    return Err(Status::NotFound("no install key for the token's kid"));
  }
  return Err(
      Status::Unavailable("the install key server could not answer for the "
                          "token's kid"));
}

void InstallKeys::Remember(const std::string& kid,
                           const Result<std::string>& pem) {
  const auto now = std::chrono::steady_clock::now();
  if (cache_.size() >= kMaxCached) {
    std::erase_if(cache_, [now](const auto& entry) {
      return entry.second.expires <= now;
    });
  }
  // Keys come only from the key server, so there are few; misses are any
  // kid a caller makes up, so past the bound they are not remembered (the
  // fetch bound still holds them back).
  if (cache_.size() >= kMaxCached && !pem) return;
  using Duration = std::chrono::steady_clock::duration;
  const Duration ttl = pem ? Duration(kKeyTtl) : Duration(kMissTtl);
  cache_[kid] = Cached{pem, now + ttl};
}

}  // namespace siteledger::server
