#include "shared_region.h"

#include <cstring>
#include <vector>

namespace ev::pg {

namespace {

std::vector<const SharedRegion*>* regions = nullptr;  // static: read by the hooks in every process
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

void request_shmem() {
    if (previous_request_hook) previous_request_hook();
    for (const SharedRegion* r : *regions) {
        RequestAddinShmemSpace(MAXALIGN(r->size));
        if (r->lock_count > 0) RequestNamedLWLockTranche(r->name, r->lock_count);
    }
}

void startup_shmem() {
    if (previous_startup_hook) previous_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    for (const SharedRegion* r : *regions) {
        bool found = false;
        void* memory = ShmemInitStruct(r->name, r->size, &found);
        if (!found) {
            std::memset(memory, 0, r->size);
            r->initialise(memory, r->lock_count > 0 ? GetNamedLWLockTranche(r->name) : nullptr);
        }
        *r->address = memory;
    }
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void add_shared_region(const SharedRegion* region) {
    if (!regions) {
        regions = new std::vector<const SharedRegion*>();
        previous_request_hook = shmem_request_hook;
        shmem_request_hook = request_shmem;
        previous_startup_hook = shmem_startup_hook;
        shmem_startup_hook = startup_shmem;
    }
    regions->push_back(region);
}

}  // namespace ev::pg
