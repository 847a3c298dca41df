// Every PostgreSQL header the glue layer needs, in one place, with C linkage
// (PostgreSQL 15, the one version the module is built for).
// Only files under src/pg include this; the core never does.
#pragma once

extern "C" {
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/pmsignal.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

// Hooks, locks and catalog look-ups of single files.
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "commands/dbcommands.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/fmgrprotos.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

// The background worker and its shared memory.
#include "access/xact.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
}

// PostgreSQL's c.h defines these as macros; they break the standard library.
#ifdef gettext
#undef gettext
#endif
#ifdef dgettext
#undef dgettext
#endif
#ifdef ngettext
#undef ngettext
#endif
#ifdef dngettext
#undef dngettext
#endif
