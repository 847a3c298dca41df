#include "remote/config_file.h"

#include <gtest/gtest.h>

using ev::remote::parse_config;

TEST(ConfigFile, NamesValuesQuotesAndComments) {
    auto c = parse_config(
        "# a comment\n"
        "\n"
        "conninfo = 'host=db.example dbname=crm user=prober'  # where\n"
        "email_verify.dns_servers=127.0.0.1:53\n"
        "batch_size = 200 # per claim\n"
        "name = 'it''s me'\n"
        "empty = ''\n"
        "batch_size = 300\r\n");
    ASSERT_EQ(c.error, "");
    EXPECT_EQ(c.values.at("conninfo"), "host=db.example dbname=crm user=prober");
    EXPECT_EQ(c.values.at("email_verify.dns_servers"), "127.0.0.1:53");
    EXPECT_EQ(c.values.at("batch_size"), "300");
    EXPECT_EQ(c.values.at("name"), "it's me");
    EXPECT_EQ(c.values.at("empty"), "");
}

TEST(ConfigFile, MalformedLinesSayWhere) {
    EXPECT_EQ(parse_config("a = 1\nb 2\n").error, "line 2: '=' expected after b");
    EXPECT_EQ(parse_config("= 2\n").error, "line 1: a setting's name expected");
    EXPECT_EQ(parse_config("a = 'open\n").error, "line 1: unterminated quoted value");
    EXPECT_EQ(parse_config("a = 'x' y\n").error, "line 1: text after the quoted value");
    EXPECT_EQ(parse_config("a = x'y\n").error, "line 1: a quote inside an unquoted value");
    EXPECT_TRUE(parse_config("a = 1\nb 2\n").values.empty());
}
