// The workers' role must be able to log in (PostgreSQL 15 lets a background
// worker connect only as a role with LOGIN), but no client may: it has no
// password, yet a `trust` line in pg_hba.conf would let anyone in as it, with
// the workers' rights over the queue and the watched tables. Every client
// connection that authenticated as it is refused here, right after
// authentication. Plain C in spirit: ereport(FATAL) ends the process.
#include "pg_prelude.h"

#include "libpq/auth.h"
#include "libpq/libpq-be.h"  // Port; needs the GSSAPI headers (libkrb5-dev)
#include "worker.h"

namespace {

ClientAuthentication_hook_type previous_hook = nullptr;

void refuse_worker_role(Port* port, int status) {
    if (previous_hook) previous_hook(port, status);
    if (status == STATUS_OK && port->user_name != nullptr && strcmp(port->user_name, ev::pg::kWorkerRole) == 0)
        ereport(FATAL, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
                        errmsg("role \"%s\" is reserved for email_verify's background workers", ev::pg::kWorkerRole),
                        errdetail("Clients cannot log in as this role.")));
}

}  // namespace

namespace ev::pg {

void WorkerLoginGuardInit() {
    previous_hook = ClientAuthentication_hook;
    ClientAuthentication_hook = refuse_worker_role;
}

}  // namespace ev::pg
