#include "text.h"

#include <gtest/gtest.h>

TEST(PrintableAscii, KeepsAsciiAndMasksTheRest) {
    EXPECT_EQ(ev::text::printable_ascii("5.1.1 User unknown"), "5.1.1 User unknown");
    EXPECT_EQ(ev::text::printable_ascii("Benutzer unbek\xe4nnt"), "Benutzer unbek?nnt");  // Latin-1
    EXPECT_EQ(ev::text::printable_ascii("caf\xc3\xa9"), "caf??");                         // UTF-8
    EXPECT_EQ(ev::text::printable_ascii(std::string("a\0b\x7f", 4)), "a?b?");
    EXPECT_EQ(ev::text::printable_ascii(""), "");
}
