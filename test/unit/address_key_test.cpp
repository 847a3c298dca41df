#include "jobs/address_key.h"

#include <gtest/gtest.h>

using ev::jobs::address_key;

TEST(AddressKey, LowerCasesTheDomainOnly) {
    EXPECT_EQ(address_key("Bob.Smith@Example.COM"), "Bob.Smith@example.com");
    EXPECT_EQ(address_key("bob@example.com"), "bob@example.com");
}

TEST(AddressKey, TrimsSurroundingWhitespace) {
    EXPECT_EQ(address_key("  bob@Example.com\t\r\n"), "bob@example.com");
    EXPECT_EQ(address_key(" \t "), "");
}

TEST(AddressKey, TheDomainIsAfterTheLastAt) { EXPECT_EQ(address_key("\"a@B\"@Example.com"), "\"a@B\"@example.com"); }

TEST(AddressKey, NoAtIsOnlyTrimmed) { EXPECT_EQ(address_key(" Not An Address "), "Not An Address"); }

TEST(AddressKey, NonAsciiBytesAreKept) { EXPECT_EQ(address_key("José@BÜCHER.de"), "José@bÜcher.de"); }
