#include "text.h"

#include <gtest/gtest.h>

TEST(PrintableAscii, KeepsAsciiAndMasksTheRest) {
    EXPECT_EQ(ev::text::printable_ascii("5.1.1 User unknown"), "5.1.1 User unknown");
    EXPECT_EQ(ev::text::printable_ascii("Benutzer unbek\xe4nnt"), "Benutzer unbek?nnt");  // Latin-1
    EXPECT_EQ(ev::text::printable_ascii("caf\xc3\xa9"), "caf??");                         // UTF-8
    EXPECT_EQ(ev::text::printable_ascii(std::string("a\0b\x7f", 4)), "a?b?");
    EXPECT_EQ(ev::text::printable_ascii(""), "");
}

TEST(Text, ScanTextFindsTheWorstInOnePass) {
    using ev::text::scan_text;
    using ev::text::TextScan;
    EXPECT_EQ(scan_text("john.doe@example.com"), TextScan::PrintableAscii);
    EXPECT_EQ(scan_text(""), TextScan::PrintableAscii);
    EXPECT_EQ(scan_text("jos\xC3\xA9@example.com"), TextScan::Unicode);
    // Controls in the word-at-a-time part, in the tail, DEL and C1.
    EXPECT_EQ(scan_text("abcdefg\x01@example.com"), TextScan::ControlCharacter);
    EXPECT_EQ(scan_text("abcdefgh@example.co\x1F"), TextScan::ControlCharacter);
    EXPECT_EQ(scan_text("abc\x7F"
                        "defgh@example.com"),
              TextScan::ControlCharacter);
    EXPECT_EQ(scan_text("abcdefgh\xC2\x85@example.com"), TextScan::ControlCharacter);
    // Invalid UTF-8 outranks a control anywhere.
    EXPECT_EQ(scan_text("a\x01"
                        "bcdefgh@exam\xFFple.com"),
              TextScan::InvalidUtf8);
    EXPECT_EQ(scan_text("abcdefgh\xE0\x80\x80"), TextScan::InvalidUtf8);  // overlong
    EXPECT_EQ(scan_text("abcdefgh\xED\xA0\x80"), TextScan::InvalidUtf8);  // a surrogate
    EXPECT_EQ(scan_text("abcdefgh\xF0\x9F\x98"), TextScan::InvalidUtf8);  // cut short
    // Every byte value in every position of an 8-byte word agrees with the byte checks.
    for (int b = 0; b < 128; ++b) {
        for (int pos = 0; pos < 8; ++pos) {
            std::string s = "abcdefghijklmnop";
            s[static_cast<std::size_t>(pos)] = static_cast<char>(b);
            bool control = b < 0x20 || b == 0x7F;
            EXPECT_EQ(scan_text(s), control ? TextScan::ControlCharacter : TextScan::PrintableAscii) << b << "@" << pos;
        }
    }
}
