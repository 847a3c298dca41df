// Special-use domain names (RFC 6761, RFC 6762, RFC 7686, RFC 8375,
// RFC 9476) that can never hold an Internet mailbox. Addresses under them are
// refused at the syntax level, so no level ever sends a DNS query or opens an
// SMTP connection for them. "test", "example" and example.com/net/org stay
// ordinary names, as RFC 6761 6.2 and 6.5 ask of applications.
#pragma once

#include <string_view>

namespace ev {

// Precondition: domain is the lower-case ASCII form, without a trailing dot.
bool is_special_use_domain(std::string_view domain);

}  // namespace ev
