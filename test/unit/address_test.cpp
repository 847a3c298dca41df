// Table-driven tests of the address syntax parser (src/core/address_parser.cpp)
// against README.md, "Syntax rules". Every table row is one case; each check
// runs under SCOPED_TRACE(<input, non-printable bytes escaped>) so a failure
// names the case.
#include <gtest/gtest.h>

#include <cstdio>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "address.h"

namespace {

using namespace std::string_literals;
using ev::SyntaxError;
using E = ev::SyntaxError;

// ---------------------------------------------------------------------------
// Helpers

const char* name(SyntaxError e) {
    switch (e) {
        case E::None: return "None";
        case E::Empty: return "Empty";
        case E::InvalidUtf8: return "InvalidUtf8";
        case E::ControlCharacter: return "ControlCharacter";
        case E::MissingAt: return "MissingAt";
        case E::MultipleAt: return "MultipleAt";
        case E::EmptyLocalPart: return "EmptyLocalPart";
        case E::LocalPartTooLong: return "LocalPartTooLong";
        case E::LocalPartDot: return "LocalPartDot";
        case E::LocalPartCharacter: return "LocalPartCharacter";
        case E::UnterminatedQuote: return "UnterminatedQuote";
        case E::QuotedCharacter: return "QuotedCharacter";
        case E::QuotedLocalNotAllowed: return "QuotedLocalNotAllowed";
        case E::EmptyDomain: return "EmptyDomain";
        case E::DomainTooLong: return "DomainTooLong";
        case E::DomainLiteralNotAllowed: return "DomainLiteralNotAllowed";
        case E::InvalidDomainLiteral: return "InvalidDomainLiteral";
        case E::EmptyLabel: return "EmptyLabel";
        case E::LabelTooLong: return "LabelTooLong";
        case E::DomainCharacter: return "DomainCharacter";
        case E::LabelHyphen: return "LabelHyphen";
        case E::SingleLabelDomain: return "SingleLabelDomain";
        case E::NumericTld: return "NumericTld";
        case E::InvalidIdn: return "InvalidIdn";
        case E::AddressTooLong: return "AddressTooLong";
        case E::LocalPartWhitespace: return "LocalPartWhitespace";
        case E::LocalPartFormatCharacter: return "LocalPartFormatCharacter";
        case E::LocalPartCombiningStart: return "LocalPartCombiningStart";
        case E::LocalPartUnassigned: return "LocalPartUnassigned";
        case E::LocalPartNoncharacter: return "LocalPartNoncharacter";
        case E::LocalPartPrivateUse: return "LocalPartPrivateUse";
        case E::IdnDisallowed: return "IdnDisallowed";
        case E::IdnContext: return "IdnContext";
        case E::IdnBidi: return "IdnBidi";
        case E::InvalidALabel: return "InvalidALabel";
        case E::ReservedHyphens: return "ReservedHyphens";
        case E::TldCharacter: return "TldCharacter";
        case E::SpecialUseDomain: return "SpecialUseDomain";
        case E::Ipv6SingleZeroGroup: return "Ipv6SingleZeroGroup";
    }
    return "(unknown SyntaxError)";
}

const std::vector<SyntaxError> kAllErrors = {
    E::None,
    E::Empty,
    E::InvalidUtf8,
    E::ControlCharacter,
    E::MissingAt,
    E::MultipleAt,
    E::EmptyLocalPart,
    E::LocalPartTooLong,
    E::LocalPartDot,
    E::LocalPartCharacter,
    E::UnterminatedQuote,
    E::QuotedCharacter,
    E::QuotedLocalNotAllowed,
    E::EmptyDomain,
    E::DomainTooLong,
    E::DomainLiteralNotAllowed,
    E::InvalidDomainLiteral,
    E::EmptyLabel,
    E::LabelTooLong,
    E::DomainCharacter,
    E::LabelHyphen,
    E::SingleLabelDomain,
    E::NumericTld,
    E::InvalidIdn,
    E::AddressTooLong,
    E::LocalPartWhitespace,
    E::LocalPartFormatCharacter,
    E::LocalPartCombiningStart,
    E::LocalPartUnassigned,
    E::LocalPartNoncharacter,
    E::LocalPartPrivateUse,
    E::IdnDisallowed,
    E::IdnContext,
    E::IdnBidi,
    E::InvalidALabel,
    E::ReservedHyphens,
    E::TldCharacter,
    E::SpecialUseDomain,
    E::Ipv6SingleZeroGroup,
};

// The input with every byte outside printable ASCII written as \xNN, for traces.
std::string printable(std::string_view s) {
    std::string out = "input: \"";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            out.push_back(ch);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        }
    }
    out += "\" (" + std::to_string(s.size()) + " octets)";
    return out;
}

std::string repeat(std::string_view unit, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += unit;
    return out;
}

// A syntactically valid host name of exactly `octets` octets (octets >= 3):
// 63-octet labels of 'a'..'z' letters, the last label alphabetic.
std::string make_domain(std::size_t octets) {
    std::string out;
    std::size_t remaining = octets;
    char letter = 'a';
    while (remaining > 63) {
        std::size_t take = remaining >= 65 ? 63 : 62;  // never leave a 64-octet or empty tail
        out += std::string(take, letter) + '.';
        remaining -= take + 1;
        letter = letter == 'y' ? 'a' : static_cast<char>(letter + 1);
    }
    out += std::string(remaining, 'z');
    return out;
}

ev::SyntaxOptions options(bool quoted, bool literal) {
    ev::SyntaxOptions o;
    o.allow_quoted_local = quoted;
    o.allow_domain_literal = literal;
    return o;
}

const ev::SyntaxOptions kDefault = options(false, false);
const ev::SyntaxOptions kQuoted = options(true, false);
const ev::SyntaxOptions kLiteral = options(false, true);
const ev::SyntaxOptions kAll = options(true, true);
const std::vector<ev::SyntaxOptions> kEveryOption = {kDefault, kQuoted, kLiteral, kAll};

std::string option_label(const ev::SyntaxOptions& o) {
    return std::string("allow_quoted_local=") + (o.allow_quoted_local ? "on" : "off") +
           " allow_domain_literal=" + (o.allow_domain_literal ? "on" : "off");
}

// A valid address: local part as given, domain lower-case A-label.
struct Valid {
    std::string input;
    std::string local;
    std::string domain;
};

// An invalid address and the error it must give.
struct Invalid {
    std::string input;
    SyntaxError error;
};

void expect_valid(const Valid& c, const ev::SyntaxOptions& o) {
    SCOPED_TRACE(printable(c.input));
    SCOPED_TRACE(option_label(o));
    ev::ParsedAddress p = ev::parse_address(c.input, o);
    EXPECT_STREQ(name(p.error), "None") << ev::describe(p.error);
    EXPECT_TRUE(p.ok());
    EXPECT_EQ(p.local, c.local);
    EXPECT_EQ(p.domain, c.domain);
    EXPECT_EQ(p.normalized(), c.local + "@" + c.domain);
    EXPECT_FALSE(p.local_is_quoted);
    EXPECT_FALSE(p.domain_is_literal);
    EXPECT_EQ(ev::unquoted_local(p), c.local);
}

void expect_error(const std::string& input, SyntaxError error, const ev::SyntaxOptions& o) {
    SCOPED_TRACE(printable(input));
    SCOPED_TRACE(option_label(o));
    ev::ParsedAddress p = ev::parse_address(input, o);
    EXPECT_STREQ(name(p.error), name(error)) << "describe: " << ev::describe(p.error);
    EXPECT_FALSE(p.ok());
}

// Options only matter for quoted local parts and domain literals, so every
// other case must come out the same under all four combinations.
void check_valid(const std::vector<Valid>& table) {
    for (const auto& c : table)
        for (const auto& o : kEveryOption) expect_valid(c, o);
}

void check_invalid(const std::vector<Invalid>& table) {
    for (const auto& c : table)
        for (const auto& o : kEveryOption) expect_error(c.input, c.error, o);
}

// ---------------------------------------------------------------------------
// Trimming and whitespace

const std::string kWhitespace = " \t\r\n\v\f";

// Leading and trailing ASCII whitespace (space, tab, CR, LF, VT, FF) is trimmed
// before anything else.
TEST(AddressWhitespace, LeadingAndTrailingWhitespaceIsTrimmed) {
    check_valid({
        {"john@example.com ", "john", "example.com"},
        {" john@example.com", "john", "example.com"},
        {" \t john@example.com\r\n", "john", "example.com"},
        {"\n\njohn@example.com\n\n", "john", "example.com"},
        {"\v\fjohn@example.com\f\v", "john", "example.com"},
        {"\r\n\t \v\fJohn.Doe@Example.COM \t\r\n\v\f", "John.Doe", "example.com"},
        {"  用户@例子.广告  ", "用户", "xn--fsqu00a.xn--4rr70v"},
        {"\tuser@bücher.de\t", "user", "xn--bcher-kva.de"},
    });
    // Every whitespace character alone, before, after, and on both sides.
    std::vector<Valid> generated;
    for (char ws : kWhitespace) {
        std::string w(1, ws);
        generated.push_back({w + "john@example.com", "john", "example.com"});
        generated.push_back({"john@example.com" + w, "john", "example.com"});
        generated.push_back({w + w + "john@example.com" + w + w + w, "john", "example.com"});
    }
    check_valid(generated);
}

// Nothing but whitespace is an empty address.
TEST(AddressWhitespace, EmptyAfterTrimming) {
    std::vector<Invalid> table = {
        {"", E::Empty},          {" ", E::Empty},    {"   ", E::Empty},
        {kWhitespace, E::Empty}, {"\r\n", E::Empty}, {"\t\t\t", E::Empty},
    };
    for (char ws : kWhitespace) table.push_back({std::string(1, ws), E::Empty});
    check_invalid(table);
}

// Whitespace inside the address is not trimmed: a space is a bad character in
// the local part or the domain, the other whitespace characters are C0 controls.
TEST(AddressWhitespace, InnerWhitespaceIsInvalid) {
    std::vector<Invalid> table = {
        {"john doe@example.com", E::LocalPartCharacter},
        {"john @example.com", E::LocalPartCharacter},
        {" john doe @example.com ", E::LocalPartCharacter},
        {"john@ example.com", E::DomainCharacter},
        {"john@exam ple.com", E::DomainCharacter},
        {"john@example.com x", E::DomainCharacter},
        {"john@example.com (John)", E::DomainCharacter},
        {"john\t@example.com", E::ControlCharacter},
        {"john@\texample.com", E::ControlCharacter},
        {"jo\nhn@example.com", E::ControlCharacter},
        {"john@example.com\r\nBcc: x@y.com", E::ControlCharacter},
    };
    for (char ws : "\t\r\n\v\f"s) {
        std::string w(1, ws);
        table.push_back({"jo" + w + "hn@example.com", E::ControlCharacter});
        table.push_back({"john@exa" + w + "mple.com", E::ControlCharacter});
        table.push_back({"john" + w + "@example.com", E::ControlCharacter});
        table.push_back({"john@" + w + "example.com", E::ControlCharacter});
    }
    check_invalid(table);
}

// ---------------------------------------------------------------------------
// UTF-8 validity and control characters

// Malformed UTF-8 sequences (RFC 3629): overlongs, surrogates, code points
// above U+10FFFF, truncated sequences, stray continuation bytes and the bytes
// that never appear (C0, C1, F5..FF).
const std::vector<std::string> kBadUtf8 = {
    "\xC0\xAF"s,                  // overlong '/'
    "\xC0\x80"s,                  // overlong NUL
    "\xC1\xBF"s,                  // overlong U+007F
    "\xE0\x80\xAF"s,              // 3-byte overlong '/'
    "\xE0\x9F\xBF"s,              // 3-byte overlong U+07FF
    "\xF0\x80\x80\xAF"s,          // 4-byte overlong '/'
    "\xF0\x8F\xBF\xBF"s,          // 4-byte overlong U+FFFF
    "\xED\xA0\x80"s,              // U+D800, high surrogate
    "\xED\xAD\xBF"s,              // U+DB7F
    "\xED\xB0\x80"s,              // U+DC00, low surrogate
    "\xED\xBF\xBF"s,              // U+DFFF
    "\xED\xA0\xBD\xED\xB8\x80"s,  // CESU-8 surrogate pair for U+1F600
    "\xF4\x90\x80\x80"s,          // U+110000
    "\xF4\xBF\xBF\xBF"s,          // U+13FFFF
    "\xF5\x80\x80\x80"s,          // lead byte F5
    "\xF7\xBF\xBF\xBF"s,          // U+1FFFFF
    "\xF8\x88\x80\x80\x80"s,      // old 5-byte form
    "\xFC\x84\x80\x80\x80\x80"s,  // old 6-byte form
    "\xC3"s,                      // truncated 2-byte
    "\xE2\x82"s,                  // truncated 3-byte (euro sign)
    "\xE2"s,                      // truncated 3-byte, lead only
    "\xF0\x9F\x98"s,              // truncated 4-byte (emoji)
    "\xF0\x9F"s,                  // truncated 4-byte
    "\xF0"s,                      // truncated 4-byte, lead only
    "\xC3\x28"s,                  // lead byte followed by ASCII
    "\xE2\x28\xA1"s,              // bad second byte
    "\xE2\x82\x28"s,              // bad third byte
    "\xF0\x28\x8C\xBC"s,          // bad second byte
    "\xF0\x90\x28\xBC"s,          // bad third byte
    "\xF0\x90\x8C\x28"s,          // bad fourth byte
    "\x80"s,                      // stray continuation
    "\xBF"s,                      // stray continuation
    "\x80\x80\x80"s,              // run of continuations
    "\xC3\xA9\xA9"s,              // valid 'é' plus a stray continuation
    "\xC0"s,                      // never-valid lead byte
    "\xC1"s,                      // never-valid lead byte
    "\xF5"s,                      // never-valid lead byte
    "\xF8"s,                      // never-valid lead byte
    "\xFB"s,                      // never-valid lead byte
    "\xFC"s,                      // never-valid lead byte
    "\xFE"s,                      // never-valid lead byte
    "\xFF"s,                      // never-valid lead byte
    "\xFE\xFF"s,                  // UTF-16 BOM bytes
    "\xE9"s,                      // Latin-1 'é'
};

// Invalid UTF-8 anywhere (local part, domain, alone, no '@') gives InvalidUtf8.
TEST(AddressUtf8, MalformedSequencesAreRejected) {
    std::vector<Invalid> table;
    for (const auto& bad : kBadUtf8) {
        table.push_back({"a" + bad + "b@example.com", E::InvalidUtf8});
        table.push_back({bad + "@example.com", E::InvalidUtf8});
        table.push_back({"user@ex" + bad + "ample.com", E::InvalidUtf8});
        table.push_back({"user@example.com" + bad, E::InvalidUtf8});
        table.push_back({bad, E::InvalidUtf8});
    }
    table.push_back({"\"j\xC3ohn\"@example.com"s, E::InvalidUtf8});  // inside quotes too
    table.push_back({"jos\xE9@example.com"s, E::InvalidUtf8});       // Latin-1 local part
    table.push_back({"user@b\xFC"s + "cher.de", E::InvalidUtf8});    // Latin-1 domain
    check_invalid(table);
}

// Well-formed UTF-8 at the boundaries of each sequence length is accepted
// as-is in a dot-atom local part (RFC 6531 UTF8-non-ascii) when the code
// point is assigned, not a space, format, private-use or noncharacter
// (address_unicode_test.cpp has those) and already in NFC.
TEST(AddressUtf8, BoundaryCodePointsAreAcceptedInLocalPart) {
    const std::vector<std::string> good = {
        "\xC2\xA1"s,          // U+00A1, first non-space after the C1 block
        "\xC3\xBF"s,          // U+00FF
        "\xDF\xBF"s,          // U+07FF, last 2-byte (NKo)
        "\xE0\xA0\x80"s,      // U+0800, first 3-byte (Samaritan)
        "\xED\x9F\xBB"s,      // U+D7FB, last assigned below the surrogates
        "\xEF\xA8\x8E"s,      // U+FA0E, a compatibility ideograph NFC keeps
        "\xEF\xBF\xBD"s,      // U+FFFD
        "\xF0\x90\x80\x80"s,  // U+10000, first 4-byte
        "\xF0\xAF\xA8\x9D"s,  // U+2FA1D, the last CJK compatibility ideograph (NFC: U+2A600)
    };
    std::vector<Valid> table;
    for (const auto& g : good) {
        table.push_back({"a" + g + "b@example.com", "a" + g + "b", "example.com"});
        table.push_back({g + "@example.com", g, "example.com"});
    }
    table.pop_back();
    table.pop_back();
    table.push_back({"a\xF0\xAF\xA8\x9D"s + "b@example.com", "a\xF0\xAA\x98\x80"s + "b", "example.com"});
    check_valid(table);
}

// NUL, C0 controls, DEL and C1 controls (U+0080..U+009F) anywhere give
// ControlCharacter (the ASCII whitespace ones only when not at either end).
TEST(AddressControl, ControlCharactersAreRejected) {
    std::vector<Invalid> table = {
        {"a\0b@x.com"s, E::ControlCharacter},
        {"\0john@example.com"s, E::ControlCharacter},
        {"john@example.com\0"s, E::ControlCharacter},
        {"john\0@example.com"s, E::ControlCharacter},
        {"john@\0example.com"s, E::ControlCharacter},
        {" \0 "s, E::ControlCharacter},  // NUL is not whitespace
        {"\0"s, E::ControlCharacter},
        {"john@example.com\x7F"s, E::ControlCharacter},
        {"\x1Bjohn@example.com"s, E::ControlCharacter},  // ESC
        {"\"a\x01z\"@example.com"s, E::ControlCharacter},
        {"\"a\\\x01z\"@example.com"s, E::ControlCharacter},
        {"\"a\tb\"@example.com"s, E::ControlCharacter},
        {"\"a\x7F\"@example.com"s, E::ControlCharacter},
        {"user@[192.0.2.1\x01]"s, E::ControlCharacter},
        {"user@b\xC3\xBC"s + "cher\x01.de", E::ControlCharacter},
        {"\xC2\x85john@example.com"s, E::ControlCharacter},  // NEL
    };
    for (int c = 0; c < 0x20; ++c) {
        std::string ch(1, static_cast<char>(c));
        table.push_back({"a" + ch + "b@example.com", E::ControlCharacter});
        table.push_back({"user@exa" + ch + "mple.com", E::ControlCharacter});
        if (kWhitespace.find(static_cast<char>(c)) == std::string::npos) {
            table.push_back({ch + "user@example.com", E::ControlCharacter});
            table.push_back({"user@example.com" + ch, E::ControlCharacter});
        }
    }
    table.push_back({"a\x7F"s + "b@example.com", E::ControlCharacter});
    table.push_back({"user@exa\x7Fmple.com"s, E::ControlCharacter});
    for (int c = 0x80; c <= 0x9F; ++c) {
        std::string c1 = "\xC2"s + static_cast<char>(c);
        table.push_back({"a" + c1 + "b@example.com", E::ControlCharacter});
        table.push_back({"user@exa" + c1 + "mple.com", E::ControlCharacter});
    }
    check_invalid(table);
}

// The checks run in this order: trim, empty, UTF-8, control characters, then
// the structure; an input with several faults reports the first one.
TEST(AddressOrder, EarlierChecksWin) {
    check_invalid({
        {"   ", E::Empty},
        {"\xFF"s, E::InvalidUtf8},             // UTF-8 before MissingAt
        {"\x01\xFF@x.com"s, E::InvalidUtf8},   // UTF-8 before control
        {"a\x7F\xC3@x.com"s, E::InvalidUtf8},  // UTF-8 before control
        {" \xED\xA0\x80\x01 "s, E::InvalidUtf8},
        {"\x01"s, E::ControlCharacter},  // control before MissingAt
        {"ab\x7F"s, E::ControlCharacter},
        {"\"a\x01"s, E::ControlCharacter},        // control before UnterminatedQuote
        {"a b\x7F@x.com"s, E::ControlCharacter},  // control before LocalPartCharacter
        {".a\x01@x.com"s, E::ControlCharacter},   // control before LocalPartDot
        {"\x01@x.com"s, E::ControlCharacter},
        {"a\x02@@x.com"s, E::ControlCharacter},  // control before MultipleAt
        {"a@localhost\x03"s, E::ControlCharacter},
        {"@\x01"s, E::ControlCharacter},
        {"john..doe@-example.com", E::LocalPartDot},  // local part before domain
        {"john doe@exa_mple.com", E::LocalPartCharacter},
        {"@localhost", E::EmptyLocalPart},
    });
}

// ---------------------------------------------------------------------------
// Dot-atom local part

const std::string kAtextSpecials = "!#$%&'*+-/=?^_`{|}~";

// RFC 5322 atext plus non-ASCII UTF-8 (RFC 6531); the local part is kept
// exactly as given (case, Unicode form), only the domain is normalised.
TEST(AddressLocalPart, ValidDotAtoms) {
    check_valid({
        {"john@example.com", "john", "example.com"},
        {"john.doe@example.com", "john.doe", "example.com"},
        {"john.doe+newsletter@example.com", "john.doe+newsletter", "example.com"},
        {"john+tag+more@example.com", "john+tag+more", "example.com"},
        {"john+@example.com", "john+", "example.com"},
        {"+tag@example.com", "+tag", "example.com"},
        {"o'reilly@example.ie", "o'reilly", "example.ie"},
        {"_user@x.io", "_user", "x.io"},
        {"user_name@example.com", "user_name", "example.com"},
        {"user-name@example.com", "user-name", "example.com"},
        {"-user-@example.com", "-user-", "example.com"},
        {"x@example.com", "x", "example.com"},
        {"1234567890@example.com", "1234567890", "example.com"},
        {"a.b.c.d.e.f@example.com", "a.b.c.d.e.f", "example.com"},
        {"John.Doe@Example.COM", "John.Doe", "example.com"},
        {"JOHN@EXAMPLE.COM", "JOHN", "example.com"},
        {"MixedCase.Local@example.com", "MixedCase.Local", "example.com"},
        {"!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~", "example.com"},
        {"#!$%&'*+-/=?^_`{}|~@example.org", "#!$%&'*+-/=?^_`{}|~", "example.org"},
        {"user%example.org@example.com", "user%example.org", "example.com"},
        {"test/test@test.com", "test/test", "test.com"},
        {"user=name@example.com", "user=name", "example.com"},
        {"{user}@example.com", "{user}", "example.com"},
        {"~@example.com", "~", "example.com"},
        {"'@example.com", "'", "example.com"},
        {"a.'b'.c@example.com", "a.'b'.c", "example.com"},
        {"first.m.last@example.co.uk", "first.m.last", "example.co.uk"},
        {"noreply@mail.example.com", "noreply", "mail.example.com"},
        {"1.2.3@example.com", "1.2.3", "example.com"},
        {"a@b.co", "a", "b.co"},
        // RFC 6531: any non-ASCII UTF-8.
        {"用户@例子.广告", "用户", "xn--fsqu00a.xn--4rr70v"},
        {"😀@example.com", "😀", "example.com"},
        {"😀.😀@example.com", "😀.😀", "example.com"},
        {"👍🏽+thanks@example.com", "👍🏽+thanks", "example.com"},
        {"иван@example.com", "иван", "example.com"},
        {"Иван.Петров@example.ru", "Иван.Петров", "example.ru"},
        {"χρήστης@example.gr", "χρήστης", "example.gr"},
        {"ΧΡΉΣΤΗΣ@example.gr", "ΧΡΉΣΤΗΣ", "example.gr"},
        {"उपयोगकर्ता@example.in", "उपयोगकर्ता", "example.in"},
        {"josé.garcía@example.es", "josé.garcía", "example.es"},
        {"Ünïcödé@example.com", "Ünïcödé", "example.com"},
        {"אבי@example.co.il", "אבי", "example.co.il"},
        {"مستخدم@example.com", "مستخدم", "example.com"},
        {"ผู้ใช้@example.co.th", "ผู้ใช้", "example.co.th"},
        {"テスト@例え.テスト", "テスト", "xn--r8jz45g.xn--zckzah"},
        {"δοκιμή@παράδειγμα.δοκιμή", "δοκιμή", "xn--hxajbheg2az3al.xn--jxalpdlp"},
        {"straße@example.de", "straße", "example.de"},
        {"e\xCC\x81@example.com"s, "\xC3\xA9"s, "example.com"},  // decomposed é composed (NFC)
        {"\xC3\xA9@example.com"s, "\xC3\xA9"s, "example.com"},   // precomposed é kept as given
    });
}

// Each atext special character is allowed alone, inside, and doubled.
TEST(AddressLocalPart, EveryAtextSpecialIsAllowed) {
    std::vector<Valid> table;
    for (char c : kAtextSpecials) {
        std::string s(1, c);
        table.push_back({s + "@example.com", s, "example.com"});
        table.push_back({"a" + s + "b@example.com", "a" + s + "b", "example.com"});
        table.push_back({s + s + "x." + s + "@example.com", s + s + "x." + s, "example.com"});
    }
    for (char c = 'a'; c <= 'z'; ++c) {
        std::string s(1, c), u(1, static_cast<char>(c - 32));
        table.push_back({s + u + "@example.com", s + u, "example.com"});
    }
    for (char c = '0'; c <= '9'; ++c) {
        std::string s(1, c);
        table.push_back({s + "@example.com", s, "example.com"});
    }
    check_valid(table);
}

// Printable ASCII outside atext (space, "(),:;<>[\] and a quote not at the
// start) is LocalPartCharacter in a dot-atom.
TEST(AddressLocalPart, NonAtextCharactersAreRejected) {
    std::vector<Invalid> table = {
        {"john doe@example.com", E::LocalPartCharacter},        {"john,doe@example.com", E::LocalPartCharacter},
        {"john(doe)@example.com", E::LocalPartCharacter},       {"john(comment)@example.com", E::LocalPartCharacter},
        {"john[doe]@example.com", E::LocalPartCharacter},       {"john\\doe@example.com", E::LocalPartCharacter},
        {"john\"doe@example.com", E::LocalPartCharacter},       {"john\"doe\"@example.com", E::LocalPartCharacter},
        {"john.\"doe\"@example.com", E::LocalPartCharacter},  // obsolete mixed form
        {"john:doe@example.com", E::LocalPartCharacter},        {"john;doe@example.com", E::LocalPartCharacter},
        {"john<doe>@example.com", E::LocalPartCharacter},       {"<john@example.com>", E::LocalPartCharacter},
        {"John Doe <john@example.com>", E::LocalPartCharacter}, {"mailto:john@example.com", E::LocalPartCharacter},
        {"john;jane@example.com", E::LocalPartCharacter},       {"a,b@example.com", E::LocalPartCharacter},
        {"[john]@example.com", E::LocalPartCharacter},          {"(john)@example.com", E::LocalPartCharacter},
    };
    for (int c = 0x20; c < 0x7F; ++c) {
        char ch = static_cast<char>(c);
        bool atext = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                     kAtextSpecials.find(ch) != std::string::npos;
        if (atext || ch == '.' || ch == '@') continue;
        std::string s(1, ch);
        table.push_back({"a" + s + "b@example.com", E::LocalPartCharacter});
        table.push_back({"ab" + s + "@example.com", E::LocalPartCharacter});
        // (a leading space is trimmed, a leading quote opens a quoted local part)
        if (ch != '"' && ch != ' ') table.push_back({s + "ab@example.com", E::LocalPartCharacter});
    }
    check_invalid(table);
}

// No leading, trailing or consecutive dots in a dot-atom.
TEST(AddressLocalPart, DotPlacement) {
    check_invalid({
        {"john..doe@example.com", E::LocalPartDot},
        {".john@example.com", E::LocalPartDot},
        {"john.@example.com", E::LocalPartDot},
        {".john.@example.com", E::LocalPartDot},
        {".@example.com", E::LocalPartDot},
        {"..@example.com", E::LocalPartDot},
        {"a...b@example.com", E::LocalPartDot},
        {"a.b..c@example.com", E::LocalPartDot},
        {"john.doe.@example.com", E::LocalPartDot},
        {"😀..😀@example.com", E::LocalPartDot},
        {".用户@例子.广告", E::LocalPartDot},
        {"john..doe@localhost", E::LocalPartDot},
    });
}

// An empty local part, and '@' handling: no '@' is MissingAt, a second '@'
// (in the domain) is MultipleAt.
TEST(AddressLocalPart, EmptyLocalAndAtSigns) {
    check_invalid({
        {"@example.com", E::EmptyLocalPart},
        {"@", E::EmptyLocalPart},
        {"@@", E::EmptyLocalPart},
        {" @example.com ", E::EmptyLocalPart},
        {"@用户.com", E::EmptyLocalPart},
        {"john", E::MissingAt},
        {"john.example.com", E::MissingAt},
        {"example.com", E::MissingAt},
        {"a", E::MissingAt},
        {"john(at)example.com", E::MissingAt},
        {"john＠example.com", E::MissingAt},  // U+FF20 fullwidth commercial at
        {"用户", E::MissingAt},
        {repeat("a", 300), E::MissingAt},
        {"john@@example.com", E::MultipleAt},
        {"a@b@c.com", E::MultipleAt},
        {"john@example@example.com", E::MultipleAt},
        {"john@example.com@", E::MultipleAt},
        {"a@@", E::MultipleAt},
        {"a@b@", E::MultipleAt},
        {"a@bücher@de.com", E::MultipleAt},
        {"john@", E::EmptyDomain},
        {" john@ ", E::EmptyDomain},
    });
}

// The local part is at most 64 octets (octets, not characters).
TEST(AddressLocalPart, LengthInOctets) {
    std::vector<Valid> ok = {
        {repeat("a", 64) + "@example.com", repeat("a", 64), "example.com"},
        {repeat("a", 63) + "@example.com", repeat("a", 63), "example.com"},
        {repeat("é", 32) + "@example.com", repeat("é", 32), "example.com"},           // 2-octet chars
        {repeat("用", 21) + "a@example.com", repeat("用", 21) + "a", "example.com"},  // 3-octet chars
        {repeat("😀", 16) + "@example.com", repeat("😀", 16), "example.com"},           // 4-octet chars
        {repeat("a.", 31) + "ab@example.com", repeat("a.", 31) + "ab", "example.com"},
    };
    check_valid(ok);
    check_invalid({
        {repeat("a", 65) + "@example.com", E::LocalPartTooLong},
        {repeat("a", 100) + "@example.com", E::LocalPartTooLong},
        {repeat("é", 33) + "@example.com", E::LocalPartTooLong},
        {repeat("é", 32) + "a@example.com", E::LocalPartTooLong},
        {repeat("用", 22) + "@example.com", E::LocalPartTooLong},
        {repeat("😀", 17) + "@example.com", E::LocalPartTooLong},
        {repeat("😀", 16) + "a@example.com", E::LocalPartTooLong},
        {repeat("a.", 32) + "a@example.com", E::LocalPartTooLong},
    });
}

// ---------------------------------------------------------------------------
// Quoted local part

struct Quoted {
    std::string input;
    SyntaxError without_option;  // allow_quoted_local off
    SyntaxError with_option;     // allow_quoted_local on
    std::string local = "";      // when valid: as given, quotes kept
    std::string unquoted = "";   // when valid: unquoted_local()
    std::string domain = "example.com";
};

// A quoted local part is valid only with allow_quoted_local (otherwise
// QuotedLocalNotAllowed); structural faults in the quotes are reported either
// way. local keeps the quotes, unquoted_local() removes the quoting.
TEST(AddressQuoted, QuotedLocalParts) {
    const std::vector<Quoted> table = {
        {R"("john doe"@example.com)", E::QuotedLocalNotAllowed, E::None, R"("john doe")", "john doe"},
        {R"("a@b"@example.com)", E::QuotedLocalNotAllowed, E::None, R"("a@b")", "a@b"},
        {R"("a\"b"@example.com)", E::QuotedLocalNotAllowed, E::None, R"("a\"b")", R"(a"b)"},
        {R"("a\\b"@x.com)", E::QuotedLocalNotAllowed, E::None, R"("a\\b")", R"(a\b)", "x.com"},
        {R"("a\\"@x.com)", E::QuotedLocalNotAllowed, E::None, R"("a\\")", R"(a\)", "x.com"},
        {R"("\""@x.com)", E::QuotedLocalNotAllowed, E::None, R"("\"")", R"(")", "x.com"},
        {R"("\a"@x.com)", E::QuotedLocalNotAllowed, E::None, R"("\a")", "a", "x.com"},
        {R"("\ "@x.com)", E::QuotedLocalNotAllowed, E::None, R"("\ ")", " ", "x.com"},
        {R"("a\"@b"@x.com)", E::QuotedLocalNotAllowed, E::None, R"("a\"@b")", R"(a"@b)", "x.com"},
        {R"("john..doe"@example.com)", E::QuotedLocalNotAllowed, E::None, R"("john..doe")", "john..doe"},
        {R"(".john"@example.com)", E::QuotedLocalNotAllowed, E::None, R"(".john")", ".john"},
        {R"("john."@example.com)", E::QuotedLocalNotAllowed, E::None, R"("john.")", "john."},
        {R"q("(comment)"@example.com)q", E::QuotedLocalNotAllowed, E::None, R"q("(comment)")q", "(comment)"},
        {R"("a,b;c:d<e>[f]"@example.com)", E::QuotedLocalNotAllowed, E::None, R"("a,b;c:d<e>[f]")", "a,b;c:d<e>[f]"},
        {R"(" "@example.com)", E::QuotedLocalNotAllowed, E::None, R"(" ")", " "},
        {R"("  spaced  out  "@example.com)", E::QuotedLocalNotAllowed, E::None, R"("  spaced  out  ")",
         "  spaced  out  "},
        {R"("very.unusual.@.unusual.com"@example.com)", E::QuotedLocalNotAllowed, E::None,
         R"("very.unusual.@.unusual.com")", "very.unusual.@.unusual.com"},
        {R"("plain"@example.com)", E::QuotedLocalNotAllowed, E::None, R"("plain")", "plain"},
        {R"("Plain"@EXAMPLE.COM)", E::QuotedLocalNotAllowed, E::None, R"("Plain")", "Plain"},
        {R"("用户 名"@例子.广告)", E::QuotedLocalNotAllowed, E::None, R"("用户 名")", "用户 名",
         "xn--fsqu00a.xn--4rr70v"},
        {R"("ü"@bücher.de)", E::QuotedLocalNotAllowed, E::None, R"("ü")", "ü", "xn--bcher-kva.de"},
        {" \"john doe\"@example.com\t", E::QuotedLocalNotAllowed, E::None, R"("john doe")", "john doe"},
        {"\"" + repeat("a", 62) + "\"@example.com", E::QuotedLocalNotAllowed, E::None, "\"" + repeat("a", 62) + "\"",
         repeat("a", 62)},
        // Empty quotes are an empty local part.
        {R"(""@example.com)", E::EmptyLocalPart, E::EmptyLocalPart},
        // No closing quote (a backslash escapes the would-be closing one).
        {R"("abc@example.com)", E::UnterminatedQuote, E::UnterminatedQuote},
        {R"("abc\"@example.com)", E::UnterminatedQuote, E::UnterminatedQuote},
        {R"("abc\)", E::UnterminatedQuote, E::UnterminatedQuote},
        {R"(")", E::UnterminatedQuote, E::UnterminatedQuote},
        {R"("@example.com)", E::UnterminatedQuote, E::UnterminatedQuote},
        {R"("john doe@example.com)", E::UnterminatedQuote, E::UnterminatedQuote},
        // Backslash followed by something that is not printable ASCII.
        {R"("a\é"@example.com)", E::QuotedCharacter, E::QuotedCharacter},
        {R"("a\用"@example.com)", E::QuotedCharacter, E::QuotedCharacter},
        // Text after the closing quote that is not '@'.
        {R"("a"b@example.com)", E::LocalPartCharacter, E::LocalPartCharacter},
        {R"("a".b@example.com)", E::LocalPartCharacter, E::LocalPartCharacter},
        {R"("a""b"@example.com)", E::LocalPartCharacter, E::LocalPartCharacter},
        {R"("a"b"@example.com)", E::LocalPartCharacter, E::LocalPartCharacter},
        {R"("a" @example.com)", E::LocalPartCharacter, E::LocalPartCharacter},
        {R"("john"."doe"@example.com)", E::LocalPartCharacter, E::LocalPartCharacter},
        // No '@' after the quoted part.
        {R"("a")", E::MissingAt, E::MissingAt},
        {R"("a@b")", E::MissingAt, E::MissingAt},
        // A quote that does not start the local part is just a bad character.
        {R"(a"b"@example.com)", E::LocalPartCharacter, E::LocalPartCharacter},
        // Too long: 65 octets counting the quotes.
        {"\"" + repeat("a", 63) + "\"@example.com", E::LocalPartTooLong, E::LocalPartTooLong},
        // With the option on, the domain is then checked as usual.
        {R"("a"@)", E::QuotedLocalNotAllowed, E::EmptyDomain},
        {R"("a"@localhost)", E::QuotedLocalNotAllowed, E::SingleLabelDomain},
        {R"("a"@b@c.com)", E::QuotedLocalNotAllowed, E::MultipleAt},
        {R"("a"@-x.com)", E::QuotedLocalNotAllowed, E::LabelHyphen},
    };
    for (const auto& c : table) {
        for (bool literal : {false, true}) {
            for (bool quoted : {false, true}) {
                ev::SyntaxOptions o = options(quoted, literal);
                SyntaxError want = quoted ? c.with_option : c.without_option;
                if (want != E::None) {
                    expect_error(c.input, want, o);
                    continue;
                }
                SCOPED_TRACE(printable(c.input));
                SCOPED_TRACE(option_label(o));
                ev::ParsedAddress p = ev::parse_address(c.input, o);
                EXPECT_STREQ(name(p.error), "None") << ev::describe(p.error);
                EXPECT_TRUE(p.ok());
                EXPECT_TRUE(p.local_is_quoted);
                EXPECT_FALSE(p.domain_is_literal);
                EXPECT_EQ(p.local, c.local);
                EXPECT_EQ(ev::unquoted_local(p), c.unquoted);
                EXPECT_EQ(p.domain, c.domain);
                EXPECT_EQ(p.normalized(), c.local + "@" + c.domain);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Domain (ASCII host names)

// LDH labels, at least two, lower-cased; numeric labels are fine except the
// last one; hyphens inside a label (even doubled) are fine.
TEST(AddressDomain, ValidHostNames) {
    check_valid({
        {"user@example.com", "user", "example.com"},
        {"user@sub-domain.example.co.uk", "user", "sub-domain.example.co.uk"},
        {"user@a.b.c.d.e.f.example.com", "user", "a.b.c.d.e.f.example.com"},
        {"user@x.io", "user", "x.io"},
        {"user@EXAMPLE.COM", "user", "example.com"},
        {"user@Example.Com", "user", "example.com"},
        {"user@MAIL.Example.ORG", "user", "mail.example.org"},
        {"user@example.photography", "user", "example.photography"},
        {"user@example.international", "user", "example.international"},
        {"user@example.technology", "user", "example.technology"},
        {"user@example.museum", "user", "example.museum"},
        {"user@example.co.jp", "user", "example.co.jp"},
        {"user@example.xyz", "user", "example.xyz"},
        {"a@b.co", "a", "b.co"},
        {"a@b.c", "a", "b.c"},  // single-letter labels
        {"a@x.y.z", "a", "x.y.z"},
        {"a@123.example.com", "a", "123.example.com"},  // numeric non-final labels
        {"a@1.com", "a", "1.com"},
        {"a@123.com", "a", "123.com"},
        {"a@1.2.3.com", "a", "1.2.3.com"},
        {"a@1a.com", "a", "1a.com"},
        {"a@3com.com", "a", "3com.com"},
        {"a@a-b.com", "a", "a-b.com"},
        {"a@a--b.com", "a", "a--b.com"},  // "--" not in the 3rd and 4th positions
        {"a@abc--d.com", "a", "abc--d.com"},
        {"a@x-1.y-2.com", "a", "x-1.y-2.com"},
        {"a@localhost.localdomain", "a", "localhost.localdomain"},
        {"first.last@iana.org", "first.last", "iana.org"},
        {"a@" + std::string(63, 'a') + ".com", "a", std::string(63, 'a') + ".com"},
        {"a@example." + std::string(63, 'z'), "a", "example." + std::string(63, 'z')},
        {"a@" + std::string(63, 'A') + ".COM", "a", std::string(63, 'a') + ".com"},
        {"a@abc" + std::string(59, '-') + "b.com", "a", "abc" + std::string(59, '-') + "b.com"},
    });
}

// Only letters, digits and '-' in labels (DomainCharacter otherwise).
TEST(AddressDomain, NonLdhCharactersAreRejected) {
    std::vector<Invalid> table = {
        {"john@exa_mple.com", E::DomainCharacter},
        {"john@_dmarc.example.com", E::DomainCharacter},
        {"john@example.c_m", E::DomainCharacter},
        {"john@ex ample.com", E::DomainCharacter},
        {"john@example!.com", E::DomainCharacter},
        {"john@example.com/", E::DomainCharacter},
        {"john@example.com:25", E::DomainCharacter},
        {"john@exa(mple).com", E::DomainCharacter},
        {"john@exa,mple.com", E::DomainCharacter},
        {"john@ex\\ample.com", E::DomainCharacter},
        {"john@ex\"ample.com", E::DomainCharacter},
        {"john@example.com]", E::DomainCharacter},
        {"john@ex[ample.com", E::DomainCharacter},
        {"john@example.com>", E::DomainCharacter},
        {"john@example.com;", E::DomainCharacter},
        {"john@example.com,jane@example.com", E::MultipleAt},
        {"john@example.com,", E::DomainCharacter},
        {"john@*.example.com", E::DomainCharacter},
        {"john@example.com?subject=hi", E::DomainCharacter},
    };
    for (int c = 0x20; c < 0x7F; ++c) {
        char ch = static_cast<char>(c);
        bool ldh = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-';
        if (ldh || ch == '.' || ch == '@') continue;
        std::string s(1, ch);
        table.push_back({"user@exa" + s + "mple.com", E::DomainCharacter});
        table.push_back({"user@example.c" + s + "om", E::DomainCharacter});
        table.push_back({"user@example.com" + s + "x", E::DomainCharacter});
        if (ch != '[') table.push_back({"user@" + s + "example.com", E::DomainCharacter});
    }
    check_invalid(table);
}

// Label shape: empty labels (leading, trailing, doubled dots), hyphens at the
// ends of a label, 1..63 octets, at least two labels, a TLD not all digits.
TEST(AddressDomain, LabelShape) {
    check_invalid({
        {"john@.example.com", E::EmptyLabel},
        {"john@example..com", E::EmptyLabel},
        {"john@example.com.", E::EmptyLabel},  // trailing dot (FQDN form) is not accepted
        {"john@.", E::EmptyLabel},
        {"john@..", E::EmptyLabel},
        {"john@.com", E::EmptyLabel},
        {"john@example.", E::EmptyLabel},
        {"john@a..b.com", E::EmptyLabel},
        {"john@example.com..", E::EmptyLabel},
        {"john@-example.com", E::LabelHyphen},
        {"john@example-.com", E::LabelHyphen},
        {"john@example.-com", E::LabelHyphen},
        {"john@example.com-", E::LabelHyphen},
        {"john@-.com", E::LabelHyphen},
        {"john@sub.-x.example.com", E::LabelHyphen},
        {"john@--.com", E::LabelHyphen},
        {"john@x.-", E::LabelHyphen},
        {"a@example.c0m", E::TldCharacter},  // a TLD is letters or an A-label
        {"a@example.1a", E::TldCharacter},
        {"a@example.a1", E::TldCharacter},
        {"a@example.c-m", E::TldCharacter},
        {"a@ab--cd.com", E::ReservedHyphens},  // RFC 5891 4.2.3.1: only xn-- there
        {"a@a---b.com", E::ReservedHyphens},
        {"a@a" + std::string(61, '-') + "b.com", E::ReservedHyphens},
        {"user@localhost", E::SingleLabelDomain},
        {"user@com", E::SingleLabelDomain},
        {"user@example", E::SingleLabelDomain},
        {"user@LOCALHOST", E::SingleLabelDomain},
        {"user@123", E::SingleLabelDomain},
        {"user@" + std::string(63, 'a'), E::SingleLabelDomain},
        {"user@1.2.3.4", E::NumericTld},
        {"a@example.123", E::NumericTld},
        {"a@example.0", E::NumericTld},
        {"a@123.456", E::NumericTld},
        {"a@example.com.1", E::NumericTld},
        {"a@192.168.0.1", E::NumericTld},
        {"a@" + std::string(64, 'a') + ".com", E::LabelTooLong},
        {"a@example." + std::string(64, 'z'), E::LabelTooLong},
        {"a@www." + std::string(64, 'b') + ".example.com", E::LabelTooLong},
        {"a@" + std::string(100, 'a') + ".com", E::LabelTooLong},
        {"a@" + std::string(64, 'a'), E::LabelTooLong},
    });
}

// ---------------------------------------------------------------------------
// Lengths: domain at most 255 octets, whole address (local + '@' + A-label
// domain) at most 254 octets.

TEST(AddressLength, DomainAndAddressLimits) {
    // Sanity of the generator.
    ASSERT_EQ(make_domain(189).size(), 189u);
    ASSERT_EQ(make_domain(256).size(), 256u);
    std::vector<Valid> ok;
    std::vector<Invalid> bad;
    const std::string l64 = repeat("a", 64);
    // Exactly 254 octets with the longest local part.
    ok.push_back({l64 + "@" + make_domain(189), l64, make_domain(189)});
    bad.push_back({l64 + "@" + make_domain(190), E::AddressTooLong});
    // Exactly 254 octets with a one-octet local part.
    ok.push_back({"a@" + make_domain(252), "a", make_domain(252)});
    bad.push_back({"a@" + make_domain(253), E::AddressTooLong});
    // Every split of 254 between local part and domain is fine, 255 is not.
    for (std::size_t local = 1; local <= 64; local += 7) {
        std::string l = repeat("b", local);
        std::string d = make_domain(254 - 1 - local);
        ok.push_back({l + "@" + d, l, d});
        bad.push_back({l + "@" + make_domain(255 - 1 - local), E::AddressTooLong});
    }
    // Whitespace trimmed before the length count.
    ok.push_back({"  " + l64 + "@" + make_domain(189) + "\r\n", l64, make_domain(189)});
    // A domain of up to 255 octets is within its own limit (the address is not).
    bad.push_back({"a@" + make_domain(254), E::AddressTooLong});
    bad.push_back({"a@" + make_domain(255), E::AddressTooLong});
    // Above 255 octets the domain itself is too long.
    bad.push_back({"a@" + make_domain(256), E::DomainTooLong});
    bad.push_back({"a@" + make_domain(300), E::DomainTooLong});
    bad.push_back({"a@" + make_domain(1021), E::DomainTooLong});
    bad.push_back({"a@" + make_domain(5000), E::DomainTooLong});
    bad.push_back({"a@" + repeat("bücher.", 200) + "de", E::DomainTooLong});  // > 1020 octets, non-ASCII
    // Multi-octet local parts count in octets.
    std::string e32 = repeat("é", 32);
    ok.push_back({e32 + "@" + make_domain(189), e32, make_domain(189)});
    bad.push_back({e32 + "@" + make_domain(190), E::AddressTooLong});
    check_valid(ok);
    check_invalid(bad);
}

// The address length counts the A-label form of an internationalised domain.
TEST(AddressLength, CountsTheALabelForm) {
    const std::string l64 = repeat("a", 64);
    // 13 x "xn--bcher-kva." (182) + "abcdefg" = 189 octets: 254 in all.
    const std::string alabel = repeat("xn--bcher-kva.", 13);
    check_valid({
        {l64 + "@" + repeat("bücher.", 13) + "abcdefg", l64, alabel + "abcdefg"},
        {l64 + "@" + repeat("BÜCHER.", 13) + "ABCDEFG", l64, alabel + "abcdefg"},
    });
    check_invalid({
        // 255 once encoded, though only 156 octets as typed.
        {l64 + "@" + repeat("bücher.", 13) + "abcdefgh", E::AddressTooLong},
        {l64 + "@" + repeat("bücher.", 14) + "de", E::AddressTooLong},
    });
}

// Quoted local parts count with their quotes.
TEST(AddressLength, QuotedLocalPartCountsQuotes) {
    const std::string q64 = "\"" + repeat("q", 62) + "\"";
    ev::ParsedAddress p = ev::parse_address(q64 + "@" + make_domain(189), kQuoted);
    EXPECT_TRUE(p.ok()) << ev::describe(p.error);
    expect_error(q64 + "@" + make_domain(190), E::AddressTooLong, kQuoted);
    expect_error(q64 + "@" + make_domain(190), E::AddressTooLong, kAll);
}

// ---------------------------------------------------------------------------
// Internationalised domains (IDNA2008 + UTS #46 non-transitional, STD3 rules)

// U-labels become A-labels; upper case and full-width forms are mapped; the
// ideographic and full-width full stops separate labels; A-labels are checked
// and lower-cased; a mix of U- and A-labels is fine.
TEST(AddressIdn, ValidInternationalisedDomains) {
    check_valid({
        {"user@bücher.de", "user", "xn--bcher-kva.de"},
        {"user@BÜCHER.DE", "user", "xn--bcher-kva.de"},
        {"user@Bücher.De", "user", "xn--bcher-kva.de"},
        {"用户@例子.广告", "用户", "xn--fsqu00a.xn--4rr70v"},
        {"a@例子。广告", "a", "xn--fsqu00a.xn--4rr70v"},  // U+3002 ideographic full stop
        {"a@bücher．de", "a", "xn--bcher-kva.de"},        // U+FF0E full-width full stop
        {"a@bücher｡de", "a", "xn--bcher-kva.de"},         // U+FF61 half-width ideographic full stop
        {"a@abc。de", "a", "abc.de"},                     // mapped to pure ASCII
        {"a@ＢÜＣＨＥＲ.ＤＥ", "a", "xn--bcher-kva.de"},  // full-width letters
        {"a@ＥＸＡＭＰＬＥ.ＣＯＭ", "a", "example.com"},
        {"a@ⓐⓑ.com", "a", "ab.com"},                          // circled letters map to ASCII
        {"a@exam\xC2\xAD"s + "ple.com", "a", "example.com"},  // soft hyphen is ignored by UTS #46
        {"a@e\xCC\x81.com"s, "a", "xn--9ca.com"},             // NFC applied: e + combining acute
        {"a@\xC3\xA9.com"s, "a", "xn--9ca.com"},
        {"a@münchen.de", "a", "xn--mnchen-3ya.de"},
        {"a@faß.de", "a", "xn--fa-hia.de"},  // non-transitional: ß kept
        {"a@straße.de", "a", "xn--strae-oqa.de"},
        {"a@ς.com", "a", "xn--3xa.com"},  // non-transitional: final sigma kept
        {"a@ΑΘΗΝΑ.gr", "a", "xn--mxaard0a.gr"},
        {"a@пример.рф", "a", "xn--e1afmkfd.xn--p1ai"},
        {"a@日本語.jp", "a", "xn--wgv71a119e.jp"},
        {"a@例え.テスト", "a", "xn--r8jz45g.xn--zckzah"},
        {"a@παράδειγμα.δοκιμή", "a", "xn--hxajbheg2az3al.xn--jxalpdlp"},
        {"a@उदाहरण.भारत", "a", "xn--p1b6ci4b4b3a.xn--h2brj9c"},
        {"a@مثال.مصر", "a", "xn--mgbh0fb.xn--wgbh1c"},
        {"a@ä.ä", "a", "xn--4ca.xn--4ca"},
        {"a@1.2.3.bü", "a", "1.2.3.xn--b-eha"},
        {"a@xn--bcher-kva.de", "a", "xn--bcher-kva.de"},  // A-label unchanged
        {"a@XN--BCHER-KVA.DE", "a", "xn--bcher-kva.de"},
        {"a@Xn--bcher-kva.de", "a", "xn--bcher-kva.de"},
        {"a@xn--BCHER-KVA.de", "a", "xn--bcher-kva.de"},
        {"a@xn--4ca.com", "a", "xn--4ca.com"},
        {"a@example.xn--p1ai", "a", "example.xn--p1ai"},
        {"a@xn--fsqu00a.xn--4rr70v", "a", "xn--fsqu00a.xn--4rr70v"},
        {"a@xn--bcher-kva.bücher.de", "a", "xn--bcher-kva.xn--bcher-kva.de"},
        {"a@bücher.xn--p1ai", "a", "xn--bcher-kva.xn--p1ai"},
        {"a@sub.bücher.example.com", "a", "sub.xn--bcher-kva.example.com"},
        {"josé@bücher.de", "josé", "xn--bcher-kva.de"},
        {"Ünïcödé@BÜCHER.DE", "Ünïcödé", "xn--bcher-kva.de"},
    });
}

// Malformed A-labels and code points IDNA2008 disallows give InvalidIdn.
TEST(AddressIdn, InvalidInternationalisedDomains) {
    check_invalid({
        {"a@xn--.com", E::InvalidALabel},
        {"a@XN--.com", E::InvalidALabel},
        {"a@xn--bcher-xxx.de", E::IdnDisallowed},  // decodes to a DISALLOWED code point
        {"a@xn--a.com", E::IdnDisallowed},
        {"a@xn--zz.com", E::InvalidALabel},
        {"a@xn--abc.com", E::IdnDisallowed},
        {"a@xn--abc-.com", E::InvalidALabel},  // encodes plain ASCII "abc"
        {"a@xn--ab--cd.com", E::InvalidALabel},
        {"a@xn--bcher-kva-.de", E::InvalidALabel},
        {"a@example.xn--", E::InvalidALabel},
        {"a@☃.com", E::IdnDisallowed},  // symbols are DISALLOWED in IDNA2008
        {"a@💩.la", E::IdnDisallowed},
        {"a@xn--ls8h.la", E::IdnDisallowed},
        {"a@½.com", E::IdnDisallowed},
        {"a@a\xE2\x80\x8D"s + "b.com", E::IdnContext},  // ZWJ outside its CONTEXTJ context
    });
}

// The usual label rules still apply to internationalised domains.
TEST(AddressIdn, LabelRulesAfterConversion) {
    check_invalid({
        {"a@bücher", E::SingleLabelDomain},
        {"a@xn--4ca", E::SingleLabelDomain},
        {"a@bücher.123", E::NumericTld},
        {"a@example.１２３", E::NumericTld},  // full-width digits map to ASCII
        {"a@bücher..de", E::EmptyLabel},
        {"a@.bücher.de", E::EmptyLabel},
        {"a@bücher.de.", E::EmptyLabel},
        {"a@例子。。广告", E::EmptyLabel},
        {"a@例子.广告。", E::EmptyLabel},
        {"a@xn--bcher-kva..de", E::EmptyLabel},
    });
}

// Faults that are invalid for sure but where either our own check or libidn2
// may speak first: the error code is one of a small set.
TEST(AddressIdn, RejectedWithEitherError) {
    struct Either {
        std::string input;
        std::set<SyntaxError> allowed;
    };
    const std::string u_label_64 = "ü" + std::string(58, 'a');  // its A-label is over 63 octets
    const std::vector<Either> table = {
        {"a@-bücher.de", {E::LabelHyphen, E::InvalidIdn}},
        {"a@bücher-.de", {E::LabelHyphen, E::InvalidIdn}},
        {"a@" + u_label_64 + ".de", {E::LabelTooLong, E::InvalidIdn}},
        {"a@" + repeat("ü", 60) + ".de", {E::LabelTooLong, E::InvalidIdn}},
        {"a@xn--bcher-kva." + std::string(64, 'a') + ".com", {E::LabelTooLong, E::InvalidIdn}},
        {"a@" + repeat("ü.", 150) + "de", {E::DomainTooLong, E::AddressTooLong, E::InvalidIdn}},
    };
    for (const auto& c : table) {
        for (const auto& o : kEveryOption) {
            SCOPED_TRACE(printable(c.input));
            SCOPED_TRACE(option_label(o));
            ev::ParsedAddress p = ev::parse_address(c.input, o);
            EXPECT_FALSE(p.ok());
            EXPECT_TRUE(c.allowed.count(p.error)) << "got " << name(p.error);
        }
    }
}

// ---------------------------------------------------------------------------
// Domain literals

struct Literal {
    std::string input;
    SyntaxError without_option;  // allow_domain_literal off
    SyntaxError with_option;     // allow_domain_literal on
    std::string domain = "";     // when valid
};

// IPv4 dotted quads and "IPv6:" literals (tag case-insensitive, normalised to
// "[IPv6:<RFC 5952 form>]") are valid only with allow_domain_literal; malformed
// literals are InvalidDomainLiteral whatever the option.
TEST(AddressLiteral, DomainLiterals) {
    const std::vector<Literal> table = {
        {"user@[192.0.2.1]", E::DomainLiteralNotAllowed, E::None, "[192.0.2.1]"},
        {"user@[0.0.0.0]", E::DomainLiteralNotAllowed, E::None, "[0.0.0.0]"},
        {"user@[255.255.255.255]", E::DomainLiteralNotAllowed, E::None, "[255.255.255.255]"},
        {"user@[127.0.0.1]", E::DomainLiteralNotAllowed, E::None, "[127.0.0.1]"},
        {"user@[IPv6:2001:db8::1]", E::DomainLiteralNotAllowed, E::None, "[IPv6:2001:db8::1]"},
        {"user@[ipv6:2001:db8::1]", E::DomainLiteralNotAllowed, E::None, "[IPv6:2001:db8::1]"},
        {"user@[IPV6:2001:DB8::1]", E::DomainLiteralNotAllowed, E::None, "[IPv6:2001:db8::1]"},
        {"user@[iPv6:FE80::1]", E::DomainLiteralNotAllowed, E::None, "[IPv6:fe80::1]"},
        {"user@[IPv6:::1]", E::DomainLiteralNotAllowed, E::None, "[IPv6:::1]"},
        {"user@[IPv6:::]", E::DomainLiteralNotAllowed, E::None, "[IPv6:::]"},
        {"user@[IPv6:1:2:3:4:5:6:7:8]", E::DomainLiteralNotAllowed, E::None, "[IPv6:1:2:3:4:5:6:7:8]"},
        {"user@[IPv6:::ffff:192.0.2.1]", E::DomainLiteralNotAllowed, E::None, "[IPv6:::ffff:192.0.2.1]"},
        {"user@[IPv6:2001:DB8:0:0:0:0:0:ABCD]", E::DomainLiteralNotAllowed, E::None, "[IPv6:2001:db8::abcd]"},
        {"User.Name@[192.0.2.1]", E::DomainLiteralNotAllowed, E::None, "[192.0.2.1]"},
        {" user@[192.0.2.1] ", E::DomainLiteralNotAllowed, E::None, "[192.0.2.1]"},
        {"用户@[192.0.2.1]", E::DomainLiteralNotAllowed, E::None, "[192.0.2.1]"},
        // Malformed, whatever the option.
        {"user@[300.1.1.1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[256.0.0.1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[1.2.3]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[1.2.3.4.5]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[127.1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[0x7f.0.0.1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[-1.2.3.4]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[1.2.3.4.]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[IPv6:zz::1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[IPv6:]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[IPv6:1.2.3.4]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[IPv6::::1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[IPv6:1:2:3:4:5:6:7:8:9]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[IPv6:1::2::3]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[IPv6:2001:db8::1%eth0]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[IPv6:12345::1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[::1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},  // IPv6 needs the tag
        {"user@[2001:db8::1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[IPv4:192.0.2.1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[example.com]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[192.0.2.1", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[192.0.2.1]x", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[192.0.2.1].com", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[192.0.2.1]]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[[192.0.2.1]]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[ 192.0.2.1]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[192.0.2.1 ]", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        {"user@[192.0.2.1]@x.com", E::InvalidDomainLiteral, E::InvalidDomainLiteral},
        // A literal is only recognised at the start of the domain.
        {"user@x[192.0.2.1]", E::DomainCharacter, E::DomainCharacter},
    };
    for (const auto& c : table) {
        for (bool quoted : {false, true}) {
            for (bool literal : {false, true}) {
                ev::SyntaxOptions o = options(quoted, literal);
                SyntaxError want = literal ? c.with_option : c.without_option;
                if (want != E::None) {
                    expect_error(c.input, want, o);
                    continue;
                }
                SCOPED_TRACE(printable(c.input));
                SCOPED_TRACE(option_label(o));
                ev::ParsedAddress p = ev::parse_address(c.input, o);
                EXPECT_STREQ(name(p.error), "None") << ev::describe(p.error);
                EXPECT_TRUE(p.ok());
                EXPECT_TRUE(p.domain_is_literal);
                EXPECT_FALSE(p.local_is_quoted);
                EXPECT_EQ(p.domain, c.domain);
                EXPECT_EQ(p.normalized(), p.local + "@" + c.domain);
            }
        }
    }
}

// Both options together: a quoted local part at a domain literal.
TEST(AddressLiteral, QuotedLocalAtLiteral) {
    const std::string input = R"("john doe"@[IPv6:2001:DB8::1])";
    ev::ParsedAddress p = ev::parse_address(input, kAll);
    ASSERT_TRUE(p.ok()) << ev::describe(p.error);
    EXPECT_TRUE(p.local_is_quoted);
    EXPECT_TRUE(p.domain_is_literal);
    EXPECT_EQ(p.local, R"("john doe")");
    EXPECT_EQ(ev::unquoted_local(p), "john doe");
    EXPECT_EQ(p.domain, "[IPv6:2001:db8::1]");
    EXPECT_EQ(p.normalized(), R"("john doe"@[IPv6:2001:db8::1])");
    expect_error(input, E::QuotedLocalNotAllowed, kDefault);
    expect_error(input, E::QuotedLocalNotAllowed, kLiteral);
    expect_error(input, E::DomainLiteralNotAllowed, kQuoted);
}

// ---------------------------------------------------------------------------
// normalized() and describe()

// normalized() is the local part as given, '@', the lower-case A-label domain.
TEST(AddressNormalized, LocalAsGivenDomainLowerALabel) {
    const struct {
        std::string input;
        std::string normalized;
    } table[] = {
        {"John.Doe@Example.COM", "John.Doe@example.com"},     {"  JOHN@EXAMPLE.COM\n", "JOHN@example.com"},
        {"Ünïcödé@BÜCHER.DE", "Ünïcödé@xn--bcher-kva.de"},    {"用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v"},
        {"x+Tag@XN--BCHER-KVA.DE", "x+Tag@xn--bcher-kva.de"}, {"o'reilly@Example.IE", "o'reilly@example.ie"},
    };
    for (const auto& c : table) {
        SCOPED_TRACE(printable(c.input));
        ev::ParsedAddress p = ev::parse_address(c.input, kDefault);
        ASSERT_TRUE(p.ok()) << ev::describe(p.error);
        EXPECT_EQ(p.normalized(), c.normalized);
        // Normalising is idempotent.
        ev::ParsedAddress again = ev::parse_address(p.normalized(), kDefault);
        ASSERT_TRUE(again.ok()) << ev::describe(again.error);
        EXPECT_EQ(again.normalized(), c.normalized);
    }
}

// describe() says something for every error and nothing for None; the
// sentences are distinct.
TEST(AddressDescribe, EveryErrorHasADescription) {
    EXPECT_TRUE(ev::describe(E::None).empty());
    std::set<std::string_view> seen;
    for (SyntaxError e : kAllErrors) {
        if (e == E::None) continue;
        SCOPED_TRACE(name(e));
        EXPECT_FALSE(ev::describe(e).empty());
        EXPECT_TRUE(seen.insert(ev::describe(e)).second) << "duplicate: " << ev::describe(e);
    }
    EXPECT_EQ(seen.size(), kAllErrors.size() - 1);
}

// A failed parse is not ok() and its error has a description.
TEST(AddressDescribe, FailuresCarryTheirDescription) {
    for (const char* input : {"", "john", "john..doe@example.com", "user@localhost", "a@xn--.com"}) {
        SCOPED_TRACE(printable(input));
        ev::ParsedAddress p = ev::parse_address(input, kDefault);
        EXPECT_FALSE(p.ok());
        EXPECT_FALSE(ev::describe(p.error).empty());
    }
}

// UTS #46 would map or drop some characters that have no place in a host
// name (libidn2 deletes '_' under its STD3 flag, maps NBSP to a space): an IDN
// domain with one must be refused, never normalised to another domain.
TEST(AddressIdn, CharactersOutsideHostNamesAreRefusedNotDropped) {
    const std::vector<std::string> table = {
        "a@bü_cher.de",
        "a@bü cher.de",
        "a@bü!cher.de",
        "a@bü/cher.de",
        "a@bü(cher).de",
        "a@bü*.de",
        "a@bü\\cher.de",
        "a@_bücher.de",
        "a@bücher.de_",
        "a@bücher.d_e",
        "a@xn--bcher-kva.ex_ample.de",
        "a@xn--bcher-kva.ex ample.de",
        "a@xn--bcher-kva.de_",
        "a@bücher.de\xC2\xA0"s,      // NBSP maps to a space (disallowed_STD3_mapped)
        "a@bücher.de\xE3\x80\x80"s,  // U+3000 ideographic space, likewise
    };
    for (const auto& input : table) {
        SCOPED_TRACE(printable(input));
        ev::ParsedAddress p = ev::parse_address(input, kDefault);
        EXPECT_TRUE(p.error == E::DomainCharacter || p.error == E::InvalidIdn || p.error == E::IdnDisallowed)
            << "want DomainCharacter or InvalidIdn, got " << name(p.error)
            << (p.ok() ? ", accepted as " + p.normalized() : std::string());
    }
}

}  // namespace
