// Domain names to their ASCII (A-label) form through libidn2: the UTS #46
// mapping (non-transitional), then every label held to IDNA2008's
// registration rules (RFC 5891 4, RFC 5892, RFC 5893), A-labels given by the
// user as strictly as U-labels.
#pragma once

#include <string>
#include <string_view>

namespace ev {

enum class IdnaFailure {
    None,
    Disallowed,     // a DISALLOWED or UNASSIGNED code point (RFC 5892), STD3's included
    Context,        // CONTEXTJ / CONTEXTO rule not met (RFC 5892 appendix A)
    Bidi,           // RFC 5893 bidi rule
    InvalidALabel,  // "xn--" that is not the Punycode of a valid U-label
    Hyphens,        // "--" in the 3rd and 4th positions of a non-A-label
    LabelTooLong,   // a label's A-label form is over 63 octets
    DomainTooLong,  // the A-label form is over 255 octets
    Other,          // anything else libidn2 refuses (length, leading combining mark, ...)
};

struct IdnaResult {
    IdnaFailure failure = IdnaFailure::Other;
    std::string ascii;  // lower-case A-label form when ok
    std::string error;  // libidn2's explanation otherwise

    bool ok() const { return failure == IdnaFailure::None; }
};

// Precondition: utf8 is valid UTF-8 without NUL. Any ASCII other than
// letters, digits, hyphens and dots is refused (IdnaFailure::Disallowed).
// The result is this thread's cached one: valid until the thread's next call.
const IdnaResult& domain_to_ascii(std::string_view utf8);

}  // namespace ev
