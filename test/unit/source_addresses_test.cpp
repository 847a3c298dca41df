// email_verify.source_addresses: the list's parser, and the choice of an
// address per MX host (sticky per host address, by family, spread over the
// list).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "net/source_addresses.h"

using ev::net::choose_source;
using ev::net::parse_source_addresses;

TEST(SourceAddresses, ParsesIpv4AndIpv6InOrder) {
    auto list = parse_source_addresses(" 192.0.2.10, 2001:db8::10 ,[2001:db8::11],127.0.0.5");
    ASSERT_EQ(list.error, "");
    ASSERT_EQ(list.addresses.size(), 4u);
    EXPECT_EQ(list.addresses[0].ip(), "192.0.2.10");
    EXPECT_EQ(list.addresses[1].ip(), "2001:db8::10");
    EXPECT_EQ(list.addresses[2].ip(), "2001:db8::11");
    EXPECT_EQ(list.addresses[3].ip(), "127.0.0.5");
    EXPECT_EQ(list.addresses[1].family(), AF_INET6);
}

TEST(SourceAddresses, EmptyIsTheEmptyList) {
    EXPECT_TRUE(parse_source_addresses("").addresses.empty());
    EXPECT_EQ(parse_source_addresses("  ").error, "");
}

TEST(SourceAddresses, ErrorsSayWhichEntryAndWhy) {
    EXPECT_EQ(parse_source_addresses("192.0.2.1,,192.0.2.2").error, "entry 2 is empty");
    EXPECT_EQ(parse_source_addresses("192.0.2.1,").error, "entry 2 is empty");
    EXPECT_EQ(parse_source_addresses("mx.example.com").error,
              "entry 1 (\"mx.example.com\") is not an IPv4 or IPv6 address (no names, no ports)");
    EXPECT_NE(parse_source_addresses("192.0.2.1:25").error, "");
    EXPECT_NE(parse_source_addresses("[2001:db8::1]:25").error, "");
    EXPECT_NE(parse_source_addresses("192.0.2.300").error, "");
    EXPECT_EQ(parse_source_addresses("192.0.2.1, 192.0.2.1").error, "entry 2 (192.0.2.1) is listed twice");
    EXPECT_EQ(parse_source_addresses("2001:db8::1,[2001:DB8::1]").error, "entry 2 (2001:db8::1) is listed twice");
    // An error leaves no half list behind.
    EXPECT_TRUE(parse_source_addresses("192.0.2.1,bad").addresses.empty());
}

TEST(SourceAddresses, ControlCharactersAreNotEchoed) {
    std::string error = parse_source_addresses("bad\r\nname").error;
    EXPECT_EQ(error.find('\r'), std::string::npos);
    EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(SourceAddresses, TheSameHostAlwaysLeavesFromTheSameAddress) {
    auto list = parse_source_addresses("127.0.0.5,127.0.0.6,127.0.0.7").addresses;
    for (const char* host : {"127.0.1.1", "2001:db8::25", "mx1.example.com"}) {
        const auto* first = choose_source(list, host, AF_INET);
        ASSERT_NE(first, nullptr);
        for (int i = 0; i < 10; ++i) EXPECT_EQ(choose_source(list, host, AF_INET), first) << host;
        // DNS names: case and a final dot do not make another host.
        std::string upper = host;
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        EXPECT_EQ(choose_source(list, upper, AF_INET), first) << host;
        EXPECT_EQ(choose_source(list, std::string(host) + ".", AF_INET), first) << host;
    }
}

// The choice is a pure function of the name and the list: it must not
// change between processes or builds (a fixed hash, not std::hash).
TEST(SourceAddresses, TheChoiceIsStableAcrossRuns) {
    auto list = parse_source_addresses("127.0.0.5,127.0.0.6").addresses;
    // The test world's two Postfix addresses (TAP 020 relies on them
    // leaving from different addresses).
    EXPECT_EQ(choose_source(list, "127.0.1.1", AF_INET)->ip(), "127.0.0.6");
    EXPECT_EQ(choose_source(list, "127.0.1.2", AF_INET)->ip(), "127.0.0.5");
}

TEST(SourceAddresses, HostsSpreadOverTheWholeList) {
    auto list = parse_source_addresses("10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4").addresses;
    std::map<std::string, int> used;
    for (int i = 0; i < 256; ++i) ++used[choose_source(list, "192.0.2." + std::to_string(i), AF_INET)->ip()];
    ASSERT_EQ(used.size(), 4u);
    for (const auto& [ip, count] : used) EXPECT_GT(count, 40) << ip;
}

TEST(SourceAddresses, OnlyAddressesOfTheDestinationsFamilyAreChosen) {
    auto list = parse_source_addresses("192.0.2.1,2001:db8::1,192.0.2.2,2001:db8::2").addresses;
    std::set<std::string> v4, v6;
    for (int i = 0; i < 50; ++i) {
        std::string host = "mx" + std::to_string(i) + ".example.org";
        v4.insert(choose_source(list, host, AF_INET)->ip());
        v6.insert(choose_source(list, host, AF_INET6)->ip());
    }
    EXPECT_EQ(v4, (std::set<std::string>{"192.0.2.1", "192.0.2.2"}));
    EXPECT_EQ(v6, (std::set<std::string>{"2001:db8::1", "2001:db8::2"}));
    auto only_v4 = parse_source_addresses("192.0.2.1").addresses;
    EXPECT_EQ(choose_source(only_v4, "mx.v6.test", AF_INET6), nullptr);
    EXPECT_EQ(choose_source({}, "mx.v6.test", AF_INET), nullptr);
}
