// The background workers: registered from shared_preload_libraries, each
// drains email_verify.queue in email_verify.database — claim a batch in a
// short transaction, probe it with no transaction open, write the verdicts
// back in another.
#pragma once

namespace ev::pg {

// From _PG_init: registers email_verify.workers workers, or explains why not.
void WorkerInit();

// From _PG_init in every process that loads the module with the workers
// around: DROP DATABASE of their database asks them to leave first.
void DropDatabaseHookInit();

}  // namespace ev::pg

extern "C" {
// The worker's entry point (bgw_function_name).
PGDLLEXPORT void email_verify_worker_main(Datum arg);
}
