// Email address syntax: RFC 5321/5322 addr-spec in its practical form, with
// RFC 6531 internationalised addresses (README.md, "Syntax rules").
#pragma once

#include <string>
#include <string_view>

namespace ev {

struct SyntaxOptions {
    bool allow_quoted_local = false;    // email_verify.allow_quoted_local
    bool allow_domain_literal = false;  // email_verify.allow_domain_literal
};

enum class SyntaxError {
    None,
    Empty,
    InvalidUtf8,
    ControlCharacter,
    MissingAt,
    MultipleAt,
    EmptyLocalPart,
    LocalPartTooLong,
    LocalPartDot,
    LocalPartCharacter,
    UnterminatedQuote,
    QuotedCharacter,
    QuotedLocalNotAllowed,
    EmptyDomain,
    DomainTooLong,
    DomainLiteralNotAllowed,
    InvalidDomainLiteral,
    EmptyLabel,
    LabelTooLong,
    DomainCharacter,
    LabelHyphen,
    SingleLabelDomain,
    NumericTld,
    InvalidIdn,
    AddressTooLong,
    // Unicode hygiene of the local part (after NFC)
    LocalPartWhitespace,
    LocalPartFormatCharacter,
    LocalPartCombiningStart,
    LocalPartUnassigned,
    LocalPartNoncharacter,
    LocalPartPrivateUse,
    // IDNA2008 (RFC 5891, 5892, 5893) and host-name rules of the domain
    IdnDisallowed,
    IdnContext,
    IdnBidi,
    InvalidALabel,
    ReservedHyphens,
    TldCharacter,
    SpecialUseDomain,
    Ipv6SingleZeroGroup,
};

// A sentence saying what is wrong, for users (e.g. "the local part is longer
// than 64 octets"); empty for SyntaxError::None.
std::string_view describe(SyntaxError error);

struct ParsedAddress {
    SyntaxError error = SyntaxError::None;
    std::string local;   // in NFC (quotes kept for a quoted local part)
    std::string domain;  // lower-case, A-label form; "[...]" for a literal
    bool local_is_quoted = false;
    bool domain_is_literal = false;

    bool ok() const { return error == SyntaxError::None; }
    std::string normalized() const { return local + '@' + domain; }
};

ParsedAddress parse_address(std::string_view input, const SyntaxOptions& options);

// The local part's content with quoting removed ("a\"b" -> a"b); unchanged
// for a dot-atom.
std::string unquoted_local(const ParsedAddress& address);

}  // namespace ev
