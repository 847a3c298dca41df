// Per-role limits on network-level checks (email_verify.consumer_limits;
// README.md, "Consumer limits"): the role's buckets in shared memory, so all
// its sessions draw on one budget (each backend keeps its own without
// shared_preload_libraries).
#pragma once

#include <cstdint>

#include "pg_prelude.h"

namespace ev::pg {

void ConsumerLimitsInit();

// Takes `count` checks for the current user or throws UserError
// (configuration_limit_exceeded) when over its limit. Superusers are not
// limited.
void require_consumer_checks(std::int64_t count);

// The same for `role` without throwing: false when over its limit.
bool take_consumer_checks(Oid role, std::int64_t count);

}  // namespace ev::pg
