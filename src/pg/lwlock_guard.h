// An LWLock held for a C++ scope. Acquiring goes through the guard (it may
// raise in theory); releasing never raises, so the destructor may do it on
// any path, an exception's included.
#pragma once

#include "guard.h"
#include "pg_prelude.h"

namespace ev::pg {

class LwLockGuard {
  public:
    LwLockGuard(LWLock* lock, LWLockMode mode) : lock_(lock) {
        pg_call([&] { LWLockAcquire(lock_, mode); });
    }
    ~LwLockGuard() { LWLockRelease(lock_); }
    LwLockGuard(const LwLockGuard&) = delete;
    LwLockGuard& operator=(const LwLockGuard&) = delete;

  private:
    LWLock* lock_;
};

}  // namespace ev::pg
