#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/base/mutex.h"
#include "storage/base/status.h"

namespace siteledger::server {

// Atlassian's install keys (PEM public keys), fetched by kid from
// `<url>/<kid>` on threads of its own, so that a slow or unreachable key
// server never holds up an HTTP thread. Concurrent requests for one kid share
// one fetch. Safe for concurrent use.
class InstallKeys {
 public:
  // A key is kept this long after it was fetched.
  static constexpr std::chrono::hours kKeyTtl{1};
  // A miss (no key for the kid, or the key server unreachable or failing) is
  // remembered this long: a caller repeating an unknown kid costs no fetch.
  static constexpr std::chrono::seconds kMissTtl{30};
  // At most this many distinct kids are being fetched or queued for a fetch;
  // a request for another one is refused at once.
  static constexpr size_t kMaxFetches = 8;
  // At most this many requests wait for the fetch of one kid.
  static constexpr size_t kMaxWaitersPerKid = 32;
  // Fetcher threads.
  static constexpr size_t kThreads = 2;
  // Cached keys and misses; past it, expired entries are dropped and misses
  // are no longer remembered.
  static constexpr size_t kMaxCached = 4096;
  // One fetch's timeout and answer limit.
  static constexpr std::chrono::milliseconds kFetchTimeout{5000};
  static constexpr size_t kMaxKeyBytes = 16384;

  // What a request for a kid gets: the PEM public key, or
  //   NotFound     the key server has no key for the kid (it answered 4xx);
  //   Unavailable  the key server could not be reached, answered too slowly,
  //                too much or 5xx; or kMaxFetches other kids are being
  //                fetched, or kMaxWaitersPerKid requests wait for this one;
  //                or Shutdown() was called. The message says which.
  using Done = std::function<void(Result<std::string> pem)>;

  // Whether `kid` may name a key: 1 to 200 of [A-Za-z0-9._-].
  static bool ValidKid(std::string_view kid);

  // Starts the fetcher threads. `url`: the key server's base (http:// or
  // https://), without a trailing '/'.
  explicit InstallKeys(std::string url);
  // Shutdown().
  ~InstallKeys();
  InstallKeys(const InstallKeys&) = delete;
  InstallKeys& operator=(const InstallKeys&) = delete;

  // Calls `done` exactly once with the key for `kid` (see Done): at once, on
  // the calling thread, when the answer is known now (a cached key or miss,
  // a refusal), else later on a fetcher thread. `done` runs with no lock
  // held and must be quick (it holds up the next fetch): hand real work to
  // another thread. Any thread.
  // REQUIRES: ValidKid(kid)
  void Get(std::string_view kid, Done done);

  // Stops: every waiting request gets Unavailable (on the calling thread),
  // fetches in flight are abandoned and the threads joined; later Gets get
  // Unavailable. Idempotent; not concurrently with itself.
  void Shutdown();

 private:
  struct Cached {
    Result<std::string> pem;
    std::chrono::steady_clock::time_point expires;
  };

  void Run();
  Result<std::string> FetchKey(const std::string& kid);
  void Remember(const std::string& kid, const Result<std::string>& pem)
      REQUIRES(mu_);

  const std::string url_;
  std::atomic<bool> cancel_{false};  // aborts fetches in flight
  std::vector<std::thread> threads_;

  Mutex mu_;
  CondVar queued_;  // signalled when queue_ grows or on Shutdown
  bool stopping_ GUARDED_BY(mu_) = false;
  std::unordered_map<std::string, Cached> cache_ GUARDED_BY(mu_);
  // Kids being fetched or queued, with the requests waiting for each.
  std::unordered_map<std::string, std::vector<Done>> waiting_ GUARDED_BY(mu_);
  std::deque<std::string> queue_ GUARDED_BY(mu_);  // kids not yet fetched
};

}  // namespace siteledger::server
