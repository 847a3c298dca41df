// The big-provider rules as this backend sees them: the enabled rows of
// email_verify.providers, read again only after the table changed (a
// relcache invalidation raised by the table's trigger), as list_cache.h does
// for the risk lists.
#pragma once

#include <memory>

#include "prober/provider_rules.h"

namespace ev::pg {

void ProviderCacheInit();

// Current rules (empty when the table does not exist: an older version of
// the extension). Must be called inside a transaction; the rules stay
// usable after it. May throw PgError (from SPI).
std::shared_ptr<const ev::prober::ProviderRules> current_provider_rules();

}  // namespace ev::pg
