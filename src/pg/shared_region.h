// The module's shared memory, region by region: each part of the module
// that keeps server-wide state declares its region once (name, size, how to
// initialise it, locks it needs) from _PG_init, and gets its address once
// the postmaster has made the segment. One shmem_request_hook and one
// shmem_startup_hook serve every region.
#pragma once

#include "pg_prelude.h"

namespace ev::pg {

struct SharedRegion {
    const char* name;  // ShmemInitStruct's key, unique in the server
    Size size;         // bytes
    // Called once, on the region's first attachment (zeroed memory), with
    // the tranche's locks when `lock_count` > 0.
    void (*initialise)(void* region, LWLockPadded* locks);
    void** address;  // where the region's address is stored in each process
    int lock_count;  // LWLocks in a tranche of the region's name (0: none)
};

// From _PG_init while shared_preload_libraries is processed; `region` must
// outlive the process (a static). Installs the hooks on first use.
void add_shared_region(const SharedRegion* region);

}  // namespace ev::pg
