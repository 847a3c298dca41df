// What makes two inputs of a bulk job the same address, so that it is probed
// once and its verdict given to every copy.
#pragma once

#include <string>
#include <string_view>

namespace ev::jobs {

// The address trimmed of surrounding whitespace (as the syntax check trims
// it) with the domain, the part after the last '@', lower-cased in ASCII.
// The local part stays as given: RFC 5321 lets a server tell "Bob" from
// "bob", and the prober asks for the mailbox the list names. An input with
// no '@' is only trimmed (it is invalid either way).
std::string address_key(std::string_view address);

}  // namespace ev::jobs
