// The risk lists as this backend sees them: shipped entries plus the rows of
// email_verify.list_entries, cached in memory and rebuilt only after the table
// changed (a relcache invalidation raised by the table's trigger).
#pragma once

#include "risk_lists.h"

namespace ev::pg {

void ListCacheInit();

// Current lists; reads email_verify.list_entries only when it changed since
// the last call. May throw PgError (from SPI).
const ev::RiskLists& current_risk_lists();

}  // namespace ev::pg
