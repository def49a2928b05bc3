#pragma once

// Clang's thread-safety attributes (-Wthread-safety): which mutex guards a
// member, which a function needs held, takes or gives back. They expand to
// nothing on other compilers. Build with clang and
// -DSITELEDGER_THREAD_SAFETY=ON to have them checked.

#if defined(__clang__)
#define SL_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SL_THREAD_ANNOTATION(x)
#endif

// A type that is a lock (Mutex).
#define CAPABILITY(x) SL_THREAD_ANNOTATION(capability(x))
// A type that holds a lock for its lifetime (MutexLock).
#define SCOPED_CAPABILITY SL_THREAD_ANNOTATION(scoped_lockable)
// A member read or written only with the mutex held.
#define GUARDED_BY(x) SL_THREAD_ANNOTATION(guarded_by(x))
// A pointer member whose target is accessed only with the mutex held.
#define PT_GUARDED_BY(x) SL_THREAD_ANNOTATION(pt_guarded_by(x))
// The caller must hold the mutex(es).
#define REQUIRES(...) SL_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
// The function takes the mutex(es) and returns holding them.
#define ACQUIRE(...) SL_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
// The function releases mutex(es) the caller held.
#define RELEASE(...) SL_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// The function tries to take the mutex; holds it when it returns `ret`.
#define TRY_ACQUIRE(...) \
  SL_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// The caller must not hold the mutex(es) (the function takes them).
#define EXCLUDES(...) SL_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// Tells the analysis the mutex is held here (checked at run time, if at all,
// by the function itself).
#define ASSERT_CAPABILITY(x) SL_THREAD_ANNOTATION(assert_capability(x))
// The function returns a reference to the mutex.
#define RETURN_CAPABILITY(x) SL_THREAD_ANNOTATION(lock_returned(x))
// Turns the analysis off for one function; say why next to it.
#define NO_THREAD_SAFETY_ANALYSIS \
  SL_THREAD_ANNOTATION(no_thread_safety_analysis)
