// The watchdog over one watch's write-back (run_as_table_owner): the owner's
// triggers run there, and one that hangs, loops or swallows the cancel must
// not hold the worker, and every other watch, for ever.
#pragma once

#include "pg_prelude.h"

namespace ev::pg {

// Arms the watchdog for the write-back of watch_id: after
// email_verify.write_back_timeout the statement is cancelled; a second later,
// if the owner's code swallowed the cancel, the process is terminated (FATAL
// cannot be caught by PL/pgSQL) after noting the watch in *overdue_sink.
void watchdog_arm(int32 watch_id);
void watchdog_disarm();

// The watch whose write-back outlived its limit since the last call, or 0.
int32 watchdog_take_expired();

// Where a worker wants the watch noted before the process is terminated (its
// slot in shared memory, read again by the worker that takes its place).
void watchdog_set_overdue_sink(volatile int32* sink);

}  // namespace ev::pg
