#include <gtest/gtest.h>

#include <string>

#include "edit_distance.h"

namespace ev {
namespace {

TEST(EditDistance, CountsInsertDeleteSubstituteAndTransposition) {
    struct Row {
        const char* a;
        const char* b;
        int expected;
    } rows[] = {
        {"", "", 0},
        {"gmail", "gmail", 0},
        {"gmial", "gmail", 1},
        {"gmai", "gmail", 1},
        {"gmaill", "gmail", 1},
        {"gnail", "gmail", 1},
        {"", "abc", 3},
        {"abc", "", 3},
        {"ca", "abc", 3},  // OSA does not edit a substring twice
        {"hotmial.com", "hotmail.com", 1},
        {"yaho.com", "yahoo.com", 1},
        {"kitten", "sitting", 3},
    };
    for (const Row& row : rows) {
        EXPECT_EQ(osa_distance(row.a, row.b, 10), row.expected) << row.a << " / " << row.b;
        EXPECT_EQ(osa_distance(row.b, row.a, 10), row.expected) << row.b << " / " << row.a;
    }
}

TEST(EditDistance, StopsAtTheLimit) {
    EXPECT_EQ(osa_distance("gmx.com", "gmail.com", 1), 2);
    EXPECT_EQ(osa_distance("abcdefgh", "hgfedcba", 2), 3);
    EXPECT_EQ(osa_distance("a", "abcdef", 2), 3);
}

TEST(EditDistance, HandlesInputsLongerThanTheStackRows) {
    std::string a(600, 'a');
    std::string b = a;
    b[300] = 'b';
    EXPECT_EQ(osa_distance(a, b, 3), 1);
}

}  // namespace
}  // namespace ev
