// Module entry: _PG_init only hands over to each part's own Init.
#include "consumer_limits.h"
#include "list_cache.h"
#include "pg_prelude.h"
#include "prober_counters.h"
#include "provider_cache.h"
#include "settings.h"
#include "shared_cache.h"
#include "shared_health.h"
#include "shared_permits.h"
#include "worker.h"
#include "worker_shmem.h"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);

void _PG_init(void) {
    ev::pg::SettingsInit();
    ev::pg::ListCacheInit();
    ev::pg::ProviderCacheInit();
    ev::pg::ConsumerLimitsInit();
    if (process_shared_preload_libraries_in_progress) {
        ev::pg::WorkerShmemInit();
        ev::pg::SharedPermitsInit();
        ev::pg::SharedCacheInit();
        ev::pg::ProberCountersInit();
        ev::pg::SharedHealthInit();
        ev::pg::WorkerInit();
    }
    ev::pg::DropDatabaseHookInit();
    // Last: reserving the prefix drops the postgresql.conf placeholders of
    // every email_verify.* setting not defined by now (with a warning), so a
    // setting defined after it would never see its configured value.
    MarkGUCPrefixReserved("email_verify");
}
}
