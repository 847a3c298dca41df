// A mail route as a CacheStore keeps it (its expiry is the store's).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dns/mail_route.h"

namespace ev::dns {

std::string encode_route(const MailRoute& route);
// nullopt for bytes that are not an encoded route of this version; the
// route's `expires` is left for the caller to set.
std::optional<MailRoute> decode_route(std::string_view bytes);

}  // namespace ev::dns
