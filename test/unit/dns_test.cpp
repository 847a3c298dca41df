// The DNS pieces that need no server: the dns_servers syntax and the TTL walk.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/answer_ttl.h"
#include "dns/resolver.h"

using ev::dns::check_server_list;

TEST(DnsServerList, AcceptsAndNormalises) {
    struct Case {
        const char* input;
        const char* normalized;
    } cases[] = {
        {"127.0.0.1", "127.0.0.1:53"},
        {"127.0.53.1:5353", "127.0.53.1:5353"},
        {" 127.0.0.1 , 127.0.0.2:54 ", "127.0.0.1:53,127.0.0.2:54"},
        {"::1", "[::1]:53"},
        {"[::1]:5353", "[::1]:5353"},
        {"[2001:db8::1]", "[2001:db8::1]:53"},
    };
    for (const auto& c : cases) {
        std::string out;
        EXPECT_EQ(check_server_list(c.input, &out), "") << c.input;
        EXPECT_EQ(out, c.normalized) << c.input;
    }
}

TEST(DnsServerList, RefusesWithAReason) {
    for (const char* bad :
         {"", ",", "127.0.0.1,", "dns.example.com", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:5x",
          "127.0.0.1:", "[::1", "[::1]x", "[::1]:", "300.1.1.1", "1.2.3.4:53:53"}) {
        EXPECT_NE(check_server_list(bad), "") << bad;
    }
}

namespace {

void put_name(std::vector<unsigned char>& m, const std::string& name) {
    std::size_t start = 0;
    while (start < name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        m.push_back(static_cast<unsigned char>(dot - start));
        m.insert(m.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    m.push_back(0);
}

void put16(std::vector<unsigned char>& m, unsigned v) {
    m.push_back(static_cast<unsigned char>(v >> 8));
    m.push_back(static_cast<unsigned char>(v));
}

// A reply with one question and `ttls.size()` A records.
std::vector<unsigned char> reply_with_ttls(const std::vector<unsigned>& ttls) {
    std::vector<unsigned char> m;
    put16(m, 1);
    put16(m, 0x8180);
    put16(m, 1);
    put16(m, static_cast<unsigned>(ttls.size()));
    put16(m, 0);
    put16(m, 0);
    put_name(m, "mx.example.test");
    put16(m, 1);
    put16(m, 1);
    for (unsigned ttl : ttls) {
        m.push_back(0xc0);  // compressed pointer to the question name
        m.push_back(12);
        put16(m, 1);
        put16(m, 1);
        put16(m, ttl >> 16);
        put16(m, ttl & 0xffff);
        put16(m, 4);
        for (unsigned char b : {127, 0, 0, 1}) m.push_back(b);
    }
    return m;
}

}  // namespace

TEST(AnswerTtl, SmallestOfTheRecords) {
    auto m = reply_with_ttls({300, 60, 3600});
    EXPECT_EQ(ev::dns::smallest_ttl(m.data(), static_cast<int>(m.size())), 60u);
}

TEST(AnswerTtl, NoRecordsOrDamageGivesTheDefault) {
    auto empty = reply_with_ttls({});
    EXPECT_EQ(ev::dns::smallest_ttl(empty.data(), static_cast<int>(empty.size())), ev::dns::kDefaultTtl);
    EXPECT_EQ(ev::dns::smallest_ttl(nullptr, 0), ev::dns::kDefaultTtl);
    auto m = reply_with_ttls({120, 30});
    // Cut inside the second record: the first one's TTL still counts.
    int cut = static_cast<int>(m.size()) - 6;
    EXPECT_EQ(ev::dns::smallest_ttl(m.data(), cut), 120u);
    for (int length = 0; length < static_cast<int>(m.size()); ++length) ev::dns::smallest_ttl(m.data(), length);
}
