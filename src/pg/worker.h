// The background workers: registered from shared_preload_libraries, each
// drains email_verify.queue in email_verify.database — claim a batch in a
// short transaction, probe it with no transaction open, write the verdicts
// back in another.
#pragma once

namespace ev::pg {

// The role the workers log in as: no superuser, and it may read only the
// tables watch() granted it (see worker_privileges in the extension's SQL).
// Client connections as this role are refused (worker_login_guard.cpp).
constexpr const char* kWorkerRole = "email_verify_worker";

// From _PG_init: registers the launcher, which starts email_verify.workers
// workers (worker_launcher.cpp), or explains why not.
void WorkerInit();
void register_worker_launcher();

// From _PG_init while shared_preload_libraries is processed: refuses client
// logins as kWorkerRole.
void WorkerLoginGuardInit();

// From _PG_init in every process that loads the module with the workers
// around: DROP DATABASE of their database asks them to leave first.
void DropDatabaseHookInit();

}  // namespace ev::pg

extern "C" {
// The entry points (bgw_function_name) of a worker and of the launcher.
PGDLLEXPORT void email_verify_worker_main(Datum arg);
PGDLLEXPORT void email_verify_launcher_main(Datum arg);
}
