#pragma once

// A std::mutex that clang's thread-safety analysis understands, a scoped
// lock for it, and a condition variable that waits on it.

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "storage/base/thread_annotations.h"

namespace siteledger {

// A mutex. Not recursive. Members it guards say so with GUARDED_BY.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Takes the mutex if it is free; returns whether it did.
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis that the caller holds the mutex, where it cannot see
  // it (a function called under a lock taken through another path). Checks
  // nothing at run time.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

  // For CondVar.
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.Lock(); }
  ~MutexLock() RELEASE() { mu_.Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

// A condition variable whose waits release and retake a Mutex the caller
// holds. Spurious wakeups happen: wait in a loop that tests the condition
// (written out, not as a lambda, so that the analysis sees the lock held).
class CondVar {
 public:
  void Wait(Mutex& mu) REQUIRES(mu) {
    std::unique_lock lock(mu.native(), std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // still held, by the caller
  }
  // As Wait, but returns false if `deadline` passed first.
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex& mu,
                 const std::chrono::time_point<Clock, Duration>& deadline)
      REQUIRES(mu) {
    std::unique_lock lock(mu.native(), std::adopt_lock);
    const bool woken =
        cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();  // still held, by the caller
    return woken;
  }

  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace siteledger
