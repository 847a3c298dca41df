// Issue 16's classes of the syntax rules (README "Syntax rules"): Unicode
// hygiene of local parts, NFC, IDNA2008 registration rules on domains
// (A-labels as strictly as U-labels, CONTEXTJ/CONTEXTO, STD3), the TLD form,
// special-use names and the RFC 5321 IPv6 literal. One row per case; the
// differential test (test/differential/) covers the same classes in bulk.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "address.h"
#include "unicode_text.h"
#include "verdict.h"

namespace {

using E = ev::SyntaxError;

struct Case {
    std::string input;
    E error;
};

std::string hex(const std::string& s) {
    std::string out;
    char buf[4];
    for (unsigned char c : s) {
        std::snprintf(buf, sizeof buf, "%02X", c);
        out += buf;
    }
    return out;
}

std::string encode(char32_t c) {
    std::string out;
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
    return out;
}

void check(const std::vector<Case>& table, const ev::SyntaxOptions& options = {}) {
    for (const auto& c : table) {
        SCOPED_TRACE(c.input + " (" + hex(c.input) + ")");
        ev::ParsedAddress p = ev::parse_address(c.input, options);
        EXPECT_EQ(static_cast<int>(p.error), static_cast<int>(c.error)) << "got: " << ev::describe(p.error);
        if (c.error != E::None) {
            EXPECT_FALSE(ev::describe(c.error).empty());
        }
    }
}

TEST(AddressUnicode, WhitespaceOfAnyKindIsRefusedInLocalParts) {
    std::vector<Case> table;
    for (const char* ws :
         {"\u00A0", "\u1680", "\u2000", "\u2002", "\u200A", "\u2028", "\u2029", "\u202F", "\u205F", "\u3000"}) {
        table.push_back({std::string("a") + ws + "b@example.com", E::LocalPartWhitespace});
        table.push_back({std::string(ws) + "ab@example.com", E::LocalPartWhitespace});
        table.push_back({std::string("ab") + ws + "@example.com", E::LocalPartWhitespace});
    }
    check(table);
}

TEST(AddressUnicode, FormatCharactersAreRefusedInLocalParts) {
    std::vector<Case> table;
    for (const char* cf : {"\u00AD", "\u200B", "\u200C", "\u200D", "\u200E", "\u200F", "\u202A", "\u202E", "\u2060",
                           "\u2066", "\u2069", "\uFEFF", "\U000E0001"}) {
        table.push_back({std::string("a") + cf + "b@example.com", E::LocalPartFormatCharacter});
    }
    check(table);
}

TEST(AddressUnicode, LeadingByteOrderMarkIsTrimmedLikeWhitespace) {
    check({
        {"\uFEFFjohn@example.com", E::None},
        {" \uFEFF john@example.com ", E::None},
        {"\uFEFF\uFEFFjohn@example.com", E::None},
        {"john@example.com\uFEFF", E::None},  // UTS #46 ignores U+FEFF in domains
        {"jo\uFEFFhn@example.com", E::LocalPartFormatCharacter},
    });
    EXPECT_EQ(ev::parse_address("\uFEFFjohn@example.com", {}).normalized(), "john@example.com");
}

TEST(AddressUnicode, CombiningMarkFirstIsRefused) {
    check({
        {"\u0301a@example.com", E::LocalPartCombiningStart},
        {"\u0903a@example.com", E::LocalPartCombiningStart},  // Mc
        {"\u20DDa@example.com", E::LocalPartCombiningStart},  // Me
        {"a\u0301@example.com", E::None},                     // composes with a (NFC: á)
        {"\u0915\u093F@example.com", E::None},                // a mark after its base
    });
}

TEST(AddressUnicode, UnassignedNoncharacterAndPrivateUseAreRefused) {
    check({
        {"a\u0378b@example.com", E::LocalPartUnassigned},
        {"a\U0001FFFDb@example.com", E::LocalPartUnassigned},
        {"a\U000E0080b@example.com", E::LocalPartUnassigned},
        {"a\uFDD0b@example.com", E::LocalPartNoncharacter},
        {"a\uFFFEb@example.com", E::LocalPartNoncharacter},
        {"a\U0010FFFFb@example.com", E::LocalPartNoncharacter},
        {"a\uE000b@example.com", E::LocalPartPrivateUse},
        {"a\U000F0000b@example.com", E::LocalPartPrivateUse},
        {"a\U00100000b@example.com", E::LocalPartPrivateUse},
    });
}

TEST(AddressUnicode, LocalPartIsNormalisedToNfcBeforeChecking) {
    ev::SyntaxOptions options;
    // Canonically equal spellings give one normalized address.
    EXPECT_EQ(ev::parse_address("Jose\u0301@example.com", options).normalized(), "Jos\u00E9@example.com");
    EXPECT_EQ(ev::parse_address("Jos\u00E9@example.com", options).normalized(), "Jos\u00E9@example.com");
    EXPECT_EQ(ev::parse_address("\u212Bngstr\u00F6m@example.com", options).local, "\u00C5ngstr\u00F6m");
    check({
        {"a\u037Eb@example.com", E::LocalPartCharacter},   // GREEK QUESTION MARK is ';' under NFC
        {"a\u2000b@example.com", E::LocalPartWhitespace},  // EN QUAD -> EN SPACE
        {"a=\u0338b@example.com", E::None},                // '=' + U+0338 -> U+2260, a symbol
    });
    ev::SyntaxOptions quoted;
    quoted.allow_quoted_local = true;
    EXPECT_EQ(ev::parse_address("\"Jose\u0301 x\"@example.com", quoted).local, "\"Jos\u00E9 x\"");
    check(
        {{"\"a\u00A0b\"@example.com", E::LocalPartWhitespace}, {"\"\u0301a\"@example.com", E::LocalPartCombiningStart}},
        quoted);
}

TEST(AddressUnicode, ALabelsAreCheckedAsStrictlyAsULabels) {
    check({
        {"u@xn--p6j.com", E::IdnDisallowed},      // U+3000
        {"u@xn--oc-jw3n.com", E::IdnDisallowed},  // fullwidth commercial at
        {"u@\u3000.com", E::IdnDisallowed},       // the same typed as U-labels
        {"u@oc\uFF20.com", E::IdnDisallowed},
        {"u@a\u2260b.com", E::IdnDisallowed},    // DISALLOWED, and STD3 outside the mapping
        {"u@xn--ab-miv.com", E::IdnDisallowed},  // a≠b as an A-label
        {"u@xn--abc-.com", E::InvalidALabel},    // Punycode of plain ASCII
        {"u@xn--bcher-kva.de", E::None},
        {"u@XN--BCHER-KVA.DE", E::None},
        {"u@b\u00FCcher.de", E::None},
        {"u@\uFF42\u00FCcher.de", E::None},     // fullwidth b: mapped by UTS #46 as browsers do
        {"u@xn--bcher-kva.xn--p1ai", E::None},  // an A-label TLD (.рф)
        {"u@\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444", E::None},
    });
    EXPECT_EQ(ev::parse_address("u@\uFF42\u00FCcher.de", {}).domain, "xn--bcher-kva.de");
}

TEST(AddressUnicode, ContextRulesOfRfc5892) {
    check({
        {"u@l\u00B7l.cat", E::None},  // MIDDLE DOT between two l
        {"u@a\u00B7b.com", E::IdnContext},
        {"u@xn--ab-0ea.com", E::IdnContext},   // the same as an A-label
        {"u@\u30A2\u30FB\u30AB.jp", E::None},  // KATAKANA MIDDLE DOT among katakana
        {"u@a\u30FBb.jp", E::IdnContext},
        {"u@\u03BA\u0375\u03B1.gr", E::None},  // GREEK KERAIA before Greek
        {"u@a\u0375.gr", E::IdnContext},
        {"u@\u05D0\u05F3.il", E::None},              // GERESH after Hebrew
        {"u@a\u200Db.com", E::IdnContext},           // ZWJ without a virama
        {"u@a\u200Cb.com", E::IdnContext},           // ZWNJ without a virama or joining context
        {"u@\u0915\u094D\u200C\u0937.in", E::None},  // ZWNJ after a virama
    });
}

TEST(AddressUnicode, TopLevelDomainIsLettersOrALabel) {
    check({
        {"u@example.com", E::None},
        {"u@example.c0m", E::TldCharacter},
        {"u@example.a-b", E::TldCharacter},
        {"u@example.123", E::NumericTld},
        {"u@example.xn--p1ai", E::None},
        {"u@example.xn--zz", E::InvalidALabel},
    });
}

TEST(AddressUnicode, SpecialUseNamesAreRefused) {
    check({
        {"u@facebookcorewwwi.onion", E::SpecialUseDomain},
        {"u@x.invalid", E::SpecialUseDomain},
        {"u@host.localhost", E::SpecialUseDomain},
        {"u@printer.local", E::SpecialUseDomain},
        {"u@x.alt", E::SpecialUseDomain},
        {"u@router.home.arpa", E::SpecialUseDomain},
        {"u@X.ONION", E::SpecialUseDomain},
        // RFC 6761 6.2 and 6.5: applications treat these as ordinary names.
        {"u@strict.test", E::None},
        {"u@example.com", E::None},
        {"u@x.example", E::None},
        {"u@mylocal.com", E::None},
        {"u@onion.com", E::None},
    });
}

TEST(AddressUnicode, Ipv6DoubleColonStandsForTwoGroupsAtLeast) {
    ev::SyntaxOptions literal;
    literal.allow_domain_literal = true;
    check(
        {
            {"u@[IPv6:1:2:3:4:5:6::7]", E::Ipv6SingleZeroGroup},
            {"u@[IPv6:1:2:3:4:5:6:7::]", E::Ipv6SingleZeroGroup},
            {"u@[IPv6:::1:2:3:4:5:6:7]", E::Ipv6SingleZeroGroup},
            {"u@[IPv6:1:2:3:4:5::1.2.3.4]", E::Ipv6SingleZeroGroup},
            {"u@[IPv6:1:2:3:4:5::7]", E::None},
            {"u@[IPv6:1:2:3:4::1.2.3.4]", E::None},
            {"u@[IPv6:::1]", E::None},
            {"u@[IPv6:1:2:3:4:5:6:0:7]", E::None},
        },
        literal);
}

TEST(AddressUnicode, SyntaxErrorTextsAreDistinct) {
    std::vector<E> added = {E::LocalPartWhitespace,
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
                            E::InvalidIdn};
    for (std::size_t i = 0; i < added.size(); ++i)
        for (std::size_t j = i + 1; j < added.size(); ++j) EXPECT_NE(ev::describe(added[i]), ev::describe(added[j]));
}

// to_nfc's fast path trusts a few ranges to be stable under NFC: each of
// their code points normalises to itself, has combining class 0 and no
// canonical decomposition it would be replaced by.
TEST(AddressUnicode, FastPathRangesAreStableUnderNfc) {
    const std::vector<std::pair<char32_t, char32_t>> ranges = {
        {0x00A0, 0x02FF}, {0x0391, 0x03A9}, {0x03B1, 0x03C9}, {0x0400, 0x0482}, {0x048A, 0x04FF},
        {0x05D0, 0x05EA}, {0x0620, 0x064A}, {0x0905, 0x0939}, {0x0E01, 0x0E30}, {0x3041, 0x3096},
        {0x30A1, 0x30FA}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
    };
    for (const auto& [lo, hi] : ranges) {
        for (char32_t c = lo; c <= hi; ++c) {
            std::string utf8 = encode(c) + encode(c == hi ? lo : c + 1);  // with a neighbour too
            ASSERT_EQ(ev::unicode::to_nfc_slow(utf8), utf8) << std::hex << static_cast<unsigned>(c);
        }
    }
}

TEST(Level, ParsedCaseInsensitivelyLikeTheSetting) {
    EXPECT_EQ(ev::parse_level("SYNTAX"), ev::Level::Syntax);
    EXPECT_EQ(ev::parse_level("Dns"), ev::Level::Dns);
    EXPECT_EQ(ev::parse_level("sMtP"), ev::Level::Smtp);
    EXPECT_FALSE(ev::parse_level("smtp ").has_value());
    EXPECT_FALSE(ev::parse_level("").has_value());
}

}  // namespace

// Found by the fuzzer: NFC folds an escaped letter and the combining mark
// after it ("\e" U+0301) into "\é", which a quoted-pair may not escape
// (RFC 6531 extends qtext only): refused, as its normal form would be.
TEST(AddressUnicode, NfcMayNotMakeAQuotedPairEscapeNonAscii) {
    ev::SyntaxOptions quoted;
    quoted.allow_quoted_local = true;
    ev::ParsedAddress folded = ev::parse_address(
        "\"\\e\xCC\x81"
        "8Xb88\"@x.orIg",
        quoted);
    EXPECT_EQ(folded.error, ev::SyntaxError::QuotedCharacter) << ev::describe(folded.error);
    EXPECT_EQ(ev::parse_address("\"\\\xC3\xA9"
                                "8Xb88\"@x.orig",
                                quoted)
                  .error,
              ev::SyntaxError::QuotedCharacter);
    // A combining mark after an escaped quote or backslash stays where it was.
    ev::ParsedAddress kept = ev::parse_address("\"a\xCC\x81\\\\b\"@example.com", quoted);
    ASSERT_TRUE(kept.ok()) << ev::describe(kept.error);
    EXPECT_EQ(ev::parse_address(kept.normalized(), quoted).normalized(), kept.normalized());
}
