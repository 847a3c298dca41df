// Domain names to their ASCII (A-label) form through libidn2, following
// IDNA2008 with the UTS #46 mapping (non-transitional), as browsers and MTAs do.
#pragma once

#include <string>
#include <string_view>

namespace ev {

struct IdnaResult {
    bool ok = false;
    std::string ascii;  // lower-case A-label form when ok
    std::string error;  // libidn2's explanation otherwise
};

// Precondition: utf8 is valid UTF-8 without NUL.
IdnaResult domain_to_ascii(std::string_view utf8);

}  // namespace ev
