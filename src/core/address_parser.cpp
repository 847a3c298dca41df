#include <arpa/inet.h>

#include <array>
#include <cctype>

#include "address.h"
#include "idna.h"
#include "special_use_domains.h"
#include "text.h"
#include "unicode_text.h"

namespace ev {

namespace {

constexpr std::size_t kMaxLocal = 64;     // RFC 5321 4.5.3.1.1
constexpr std::size_t kMaxDomain = 255;   // RFC 5321 4.5.3.1.2
constexpr std::size_t kMaxAddress = 254;  // RFC 5321 path limit less the angle brackets
constexpr std::size_t kMaxLabel = 63;     // RFC 1035 2.3.4
constexpr std::size_t kMaxUtf8PerChar = 4;

// RFC 5322 atext; bytes >= 0x80 are the UTF8-non-ascii of RFC 6531.
constexpr std::array<bool, 256> make_atext_table() {
    std::array<bool, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (char c : std::string_view("!#$%&'*+-/=?^_`{|}~")) t[static_cast<unsigned char>(c)] = true;
    for (int c = 0x80; c <= 0xFF; ++c) t[c] = true;
    return t;
}
constexpr auto kAtext = make_atext_table();

// RFC 5321 qtextSMTP: printable ASCII but '"' and '\' (plus UTF-8 per RFC 6531).
bool is_qtext(unsigned char c) { return c == 32 || c == 33 || (c >= 35 && c <= 126 && c != 92) || c >= 0x80; }

SyntaxError check_dot_atom(std::string_view local) {
    if (local.empty()) return SyntaxError::EmptyLocalPart;
    if (local.front() == '.' || local.back() == '.') return SyntaxError::LocalPartDot;
    char prev = 0;
    for (char ch : local) {
        if (ch == '.') {
            if (prev == '.') return SyntaxError::LocalPartDot;
        } else if (!kAtext[static_cast<unsigned char>(ch)]) {
            return SyntaxError::LocalPartCharacter;
        }
        prev = ch;
    }
    return SyntaxError::None;
}

// Scans a quoted local part starting at s[0] == '"'; returns the index just
// past the closing quote, or 0 with *error set.
std::size_t scan_quoted(std::string_view s, SyntaxError* error) {
    for (std::size_t i = 1; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '"') {
            if (i == 1) {
                *error = SyntaxError::EmptyLocalPart;
                return 0;
            }
            return i + 1;
        }
        if (c == '\\') {
            // quoted-pairSMTP: backslash followed by printable ASCII or space.
            if (i + 1 >= s.size()) break;
            auto n = static_cast<unsigned char>(s[i + 1]);
            if (n < 32 || n > 126) {
                *error = SyntaxError::QuotedCharacter;
                return 0;
            }
            ++i;
            continue;
        }
        if (!is_qtext(c)) {
            *error = SyntaxError::QuotedCharacter;
            return 0;
        }
    }
    *error = SyntaxError::UnterminatedQuote;
    return 0;
}

// RFC 5321 4.1.3 (IPv6-comp, IPv6v4-comp): "::" stands for at least two zero
// groups, so at most six groups (four and an IPv4 tail) may be written beside
// it. inet_pton also takes "::" for one group (RFC 4291 allows it).
bool compresses_single_group(std::string_view addr) {
    if (addr.find("::") == std::string_view::npos) return false;
    std::size_t groups = 0;
    std::size_t start = 0;
    while (start <= addr.size()) {
        std::size_t colon = addr.find(':', start);
        if (colon == std::string_view::npos) colon = addr.size();
        std::string_view group = addr.substr(start, colon - start);
        if (!group.empty()) groups += group.find('.') == std::string_view::npos ? 1 : 2;
        start = colon + 1;
    }
    return groups > 6;
}

SyntaxError check_domain_literal(std::string_view literal, std::string* normalized) {
    if (literal.size() < 3 || literal.back() != ']') return SyntaxError::InvalidDomainLiteral;
    std::string inner(literal.substr(1, literal.size() - 2));
    unsigned char buf[16];
    constexpr std::string_view kIpv6Tag = "IPv6:";
    if (inner.size() > kIpv6Tag.size() && text::iequals_ascii(inner.substr(0, kIpv6Tag.size()), kIpv6Tag)) {
        std::string addr = inner.substr(kIpv6Tag.size());
        if (inet_pton(AF_INET6, addr.c_str(), buf) != 1) return SyntaxError::InvalidDomainLiteral;
        if (compresses_single_group(addr)) return SyntaxError::Ipv6SingleZeroGroup;
        // One spelling per address (RFC 5952), so equal literals normalise equally.
        char canonical[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, buf, canonical, sizeof canonical);
        *normalized = std::string("[IPv6:") + canonical + "]";
        return SyntaxError::None;
    }
    // inet_pton(AF_INET) accepts only the dotted-decimal quad RFC 5321 asks for.
    if (inet_pton(AF_INET, inner.c_str(), buf) != 1) return SyntaxError::InvalidDomainLiteral;
    *normalized = "[" + inner + "]";
    return SyntaxError::None;
}

bool needs_idna(std::string_view domain) {
    if (!text::is_ascii(domain)) return true;
    // An A-label must be checked for valid Punycode and IDNA rules.
    for (std::size_t i = 0; i + 4 <= domain.size(); ++i) {
        if ((i == 0 || domain[i - 1] == '.') && text::iequals_ascii(domain.substr(i, 4), "xn--")) return true;
    }
    return false;
}

// Hostname rules (RFC 1123 2.1, RFC 3696 2) over the lower-case ASCII form.
SyntaxError check_hostname(std::string_view host) {
    if (host.size() > kMaxDomain) return SyntaxError::DomainTooLong;
    std::size_t labels = 0;
    std::size_t start = 0;
    bool last_all_digits = false;
    bool last_letters = false;
    while (true) {
        std::size_t dot = host.find('.', start);
        std::string_view label =
            host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (label.empty()) return SyntaxError::EmptyLabel;
        if (label.size() > kMaxLabel) return SyntaxError::LabelTooLong;
        if (label.front() == '-' || label.back() == '-') return SyntaxError::LabelHyphen;
        // RFC 5891 4.2.3.1: "--" there is reserved for A-labels ("xn--"),
        // which domain_to_ascii has checked.
        if (label.size() >= 4 && label[2] == '-' && label[3] == '-' && label.substr(0, 4) != "xn--")
            return SyntaxError::ReservedHyphens;
        last_all_digits = true;
        for (char c : label) {
            bool digit = c >= '0' && c <= '9';
            if (!digit && !(c >= 'a' && c <= 'z') && c != '-') return SyntaxError::DomainCharacter;
            last_all_digits = last_all_digits && digit;
        }
        last_letters = true;
        for (char c : label) last_letters = last_letters && c >= 'a' && c <= 'z';
        if (label.substr(0, 4) == "xn--") last_letters = true;
        ++labels;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (labels < 2) return SyntaxError::SingleLabelDomain;
    if (last_all_digits) return SyntaxError::NumericTld;
    // Every delegated top-level domain is letters or an A-label.
    if (!last_letters) return SyntaxError::TldCharacter;
    if (is_special_use_domain(host)) return SyntaxError::SpecialUseDomain;
    return SyntaxError::None;
}

SyntaxError parse_domain(std::string_view domain, const SyntaxOptions& options, ParsedAddress* out) {
    if (domain.empty()) return SyntaxError::EmptyDomain;
    if (domain.front() == '[') {
        SyntaxError e = check_domain_literal(domain, &out->domain);
        if (e != SyntaxError::None) return e;
        if (!options.allow_domain_literal) return SyntaxError::DomainLiteralNotAllowed;
        out->domain_is_literal = true;
        return SyntaxError::None;
    }
    // Cheap bound before handing anything to libidn2: every character of a
    // valid domain takes at most four octets.
    if (domain.size() > kMaxDomain * kMaxUtf8PerChar) return SyntaxError::DomainTooLong;
    if (domain.find('@') != std::string_view::npos) return SyntaxError::MultipleAt;
    if (needs_idna(domain)) {
        // UTS #46 maps or drops some ASCII (libidn2 deletes '_'); a host
        // name's ASCII must already be letters, digits, hyphens and dots.
        for (char c : domain) {
            auto u = static_cast<unsigned char>(c);
            bool ldh =
                (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' || c == '.';
            if (u < 0x80 && !ldh) return SyntaxError::DomainCharacter;
        }
        // Label-shape errors read better in our words than libidn2's, so
        // check empty labels first ("a..b", leading or trailing dot).
        if (domain.front() == '.' || domain.back() == '.' || domain.find("..") != std::string_view::npos)
            return SyntaxError::EmptyLabel;
        const IdnaResult& idna = domain_to_ascii(domain);
        switch (idna.failure) {
            case IdnaFailure::None: break;
            case IdnaFailure::Disallowed: return SyntaxError::IdnDisallowed;
            case IdnaFailure::Context: return SyntaxError::IdnContext;
            case IdnaFailure::Bidi: return SyntaxError::IdnBidi;
            case IdnaFailure::InvalidALabel: return SyntaxError::InvalidALabel;
            case IdnaFailure::Hyphens: return SyntaxError::ReservedHyphens;
            case IdnaFailure::LabelTooLong: return SyntaxError::LabelTooLong;
            case IdnaFailure::DomainTooLong: return SyntaxError::DomainTooLong;
            case IdnaFailure::Other: return SyntaxError::InvalidIdn;
        }
        out->domain = idna.ascii;
    } else {
        out->domain = text::ascii_lowercase(domain);
    }
    return check_hostname(out->domain);
}

// ASCII whitespace at either end and byte order marks in front (a CSV
// export's artefact), in any mix.
std::string_view trim_input(std::string_view input) {
    std::string_view s = text::trim_ascii_whitespace(input);
    while (s.substr(0, unicode::kBom.size()) == unicode::kBom)
        s = text::trim_ascii_whitespace(s.substr(unicode::kBom.size()));
    return s;
}

SyntaxError local_problem(unicode::LocalProblem problem) {
    switch (problem) {
        case unicode::LocalProblem::None: return SyntaxError::None;
        case unicode::LocalProblem::Whitespace: return SyntaxError::LocalPartWhitespace;
        case unicode::LocalProblem::Format: return SyntaxError::LocalPartFormatCharacter;
        case unicode::LocalProblem::CombiningStart: return SyntaxError::LocalPartCombiningStart;
        case unicode::LocalProblem::Unassigned: return SyntaxError::LocalPartUnassigned;
        case unicode::LocalProblem::Noncharacter: return SyntaxError::LocalPartNoncharacter;
        case unicode::LocalProblem::PrivateUse: return SyntaxError::LocalPartPrivateUse;
    }
    return SyntaxError::LocalPartCharacter;
}

}  // namespace

std::string_view describe(SyntaxError error) {
    switch (error) {
        case SyntaxError::None: return "";
        case SyntaxError::Empty: return "the address is empty";
        case SyntaxError::InvalidUtf8: return "the address is not valid UTF-8";
        case SyntaxError::ControlCharacter: return "the address contains a control character";
        case SyntaxError::MissingAt: return "the address has no @";
        case SyntaxError::MultipleAt: return "the address has more than one @ outside quotes";
        case SyntaxError::EmptyLocalPart: return "the local part is empty";
        case SyntaxError::LocalPartTooLong: return "the local part is longer than 64 octets";
        case SyntaxError::LocalPartDot: return "the local part has a leading, trailing or doubled dot";
        case SyntaxError::LocalPartCharacter: return "the local part contains a character not allowed outside quotes";
        case SyntaxError::UnterminatedQuote: return "the quoted local part has no closing quote";
        case SyntaxError::QuotedCharacter: return "the quoted local part contains a character not allowed in quotes";
        case SyntaxError::QuotedLocalNotAllowed:
            return "quoted local parts are not accepted (email_verify.allow_quoted_local is off)";
        case SyntaxError::EmptyDomain: return "the domain is empty";
        case SyntaxError::DomainTooLong: return "the domain is longer than 255 octets";
        case SyntaxError::DomainLiteralNotAllowed:
            return "domain literals are not accepted (email_verify.allow_domain_literal is off)";
        case SyntaxError::InvalidDomainLiteral: return "the domain literal is not an IPv4 or IPv6 address";
        case SyntaxError::EmptyLabel: return "the domain has an empty label (leading, trailing or doubled dot)";
        case SyntaxError::LabelTooLong: return "a domain label is longer than 63 octets";
        case SyntaxError::DomainCharacter: return "the domain contains a character not allowed in a host name";
        case SyntaxError::LabelHyphen: return "a domain label starts or ends with a hyphen";
        case SyntaxError::SingleLabelDomain: return "the domain needs at least two labels";
        case SyntaxError::NumericTld: return "the top-level domain is all digits";
        case SyntaxError::InvalidIdn: return "the domain is not a valid internationalised domain name";
        case SyntaxError::AddressTooLong: return "the address is longer than 254 octets";
        case SyntaxError::LocalPartWhitespace: return "the local part contains a whitespace character";
        case SyntaxError::LocalPartFormatCharacter:
            return "the local part contains an invisible format character (such as a zero-width space, a byte order "
                   "mark, a soft hyphen or a bidi control)";
        case SyntaxError::LocalPartCombiningStart: return "the local part starts with a combining mark";
        case SyntaxError::LocalPartUnassigned: return "the local part contains a code point unassigned in Unicode";
        case SyntaxError::LocalPartNoncharacter: return "the local part contains a Unicode noncharacter";
        case SyntaxError::LocalPartPrivateUse: return "the local part contains a private-use code point";
        case SyntaxError::IdnDisallowed:
            return "the domain contains a character IDNA2008 disallows in host names (a symbol, a space, a "
                   "compatibility form or an unassigned code point)";
        case SyntaxError::IdnContext:
            return "the domain uses a character (such as a middle dot or a zero-width joiner) outside the context "
                   "RFC 5892 requires";
        case SyntaxError::IdnBidi: return "a domain label breaks the bidi rule for right-to-left text (RFC 5893)";
        case SyntaxError::InvalidALabel:
            return "a domain label starting with xn-- is not the encoding of a valid internationalised label";
        case SyntaxError::ReservedHyphens:
            return "a domain label has hyphens in its third and fourth positions without being an xn-- label";
        case SyntaxError::TldCharacter: return "the top-level domain is neither letters only nor an xn-- label";
        case SyntaxError::SpecialUseDomain:
            return "the domain is a special-use name that never receives Internet mail (.onion, .invalid, "
                   ".localhost, .local, .alt, .arpa)";
        case SyntaxError::Ipv6SingleZeroGroup: return "the IPv6 literal uses :: for a single zero group";
    }
    return "the address is not well formed";
}

ParsedAddress parse_address(std::string_view input, const SyntaxOptions& options) {
    ParsedAddress out;
    auto fail = [&out](SyntaxError e) {
        out.error = e;
        out.local.clear();
        out.domain.clear();
        return out;
    };

    std::string_view s = trim_input(input);
    if (s.empty()) return fail(SyntaxError::Empty);
    const text::TextScan scanned = text::scan_text(s);
    if (scanned == text::TextScan::InvalidUtf8) return fail(SyntaxError::InvalidUtf8);
    if (scanned == text::TextScan::ControlCharacter) return fail(SyntaxError::ControlCharacter);
    const bool printable_ascii = scanned == text::TextScan::PrintableAscii;

    std::size_t at;
    if (s.front() == '"') {
        SyntaxError e = SyntaxError::None;
        std::size_t end = scan_quoted(s, &e);
        if (end == 0) return fail(e);
        if (end >= s.size()) return fail(SyntaxError::MissingAt);
        if (s[end] != '@') return fail(SyntaxError::LocalPartCharacter);
        at = end;
        out.local_is_quoted = true;
    } else {
        at = s.find('@');
        if (at == std::string_view::npos) return fail(SyntaxError::MissingAt);
        // A cheap bound before normalising; NFC can shorten a little.
        if (at > kMaxLocal * kMaxUtf8PerChar) return fail(SyntaxError::LocalPartTooLong);
    }
    // RFC 6532 3.1: NFC, before the checks, so that a character that
    // normalises to a forbidden one (U+037E to ';') is refused, and so that
    // canonically equal addresses normalise equally.
    // A dot-atom's code points are checked in the same pass (their problem
    // is reported after the dot-atom's own, below).
    unicode::LocalProblem dot_atom_problem = unicode::LocalProblem::None;
    if (printable_ascii) {
        out.local.assign(s.substr(0, at));
    } else if (out.local_is_quoted) {
        out.local = unicode::to_nfc(s.substr(0, at));
        // NFC may fold an escaped ASCII letter and the combining mark after
        // it into one non-ASCII character ("\e" U+0301 into "\é"), which a
        // quoted-pair may not escape (RFC 6531 extends qtext, not
        // quoted-pair): the normalised part must still scan as it did.
        SyntaxError quoted_error = SyntaxError::None;
        if (out.local != s.substr(0, at) && scan_quoted(out.local, &quoted_error) != out.local.size())
            return fail(quoted_error == SyntaxError::None ? SyntaxError::QuotedCharacter : quoted_error);
    } else {
        unicode::NormalizedLocal normalized = unicode::normalize_local(s.substr(0, at));
        out.local = std::move(normalized.text);
        dot_atom_problem = normalized.problem;
    }
    if (out.local.size() > kMaxLocal) return fail(SyntaxError::LocalPartTooLong);
    if (!out.local_is_quoted) {
        SyntaxError e = check_dot_atom(out.local);
        if (e != SyntaxError::None) return fail(e);
    }
    if (!printable_ascii) {
        // Only a quoted string's content can start with a combining mark.
        SyntaxError e =
            local_problem(out.local_is_quoted ? unicode::check_local_code_points(std::string_view(out.local).substr(1))
                                              : dot_atom_problem);
        if (e != SyntaxError::None) return fail(e);
    }
    if (out.local_is_quoted && !options.allow_quoted_local) return fail(SyntaxError::QuotedLocalNotAllowed);

    SyntaxError e = parse_domain(s.substr(at + 1), options, &out);
    if (e != SyntaxError::None) return fail(e);
    if (out.local.size() + 1 + out.domain.size() > kMaxAddress) return fail(SyntaxError::AddressTooLong);
    return out;
}

std::string unquoted_local(const ParsedAddress& address) {
    if (!address.local_is_quoted) return address.local;
    std::string out;
    const std::string& q = address.local;
    for (std::size_t i = 1; i + 1 < q.size(); ++i) {
        if (q[i] == '\\' && i + 2 < q.size()) ++i;
        out.push_back(q[i]);
    }
    return out;
}

}  // namespace ev
