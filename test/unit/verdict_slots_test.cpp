#include "jobs/verdict_slots.h"

#include <gtest/gtest.h>

using ev::jobs::decode_slots;
using ev::jobs::encode_slots;
using ev::jobs::VerdictSlots;

namespace {

ev::VerificationResult sample() {
    ev::VerificationResult r;
    r.email = "bob@example.test";
    r.normalized = "bob@example.test";
    r.status = ev::Status::Risky;
    r.reason = ev::Reason::CatchAll;
    r.level = ev::Level::Smtp;
    r.is_catch_all = true;
    r.mx_host = "mx.example.test";
    r.smtp_code = 250;
    r.smtp_message = "2.1.5 ok";
    r.score = 60;
    r.checked_at_unix = 1.75e9;
    r.duration_ms = 12.5;
    return r;
}

}  // namespace

TEST(VerdictSlots, EmptyBytesAreSlotsNotWrittenYet) {
    auto slots = decode_slots("", 3);
    ASSERT_TRUE(slots);
    ASSERT_EQ(slots->size(), 3u);
    for (const auto& s : *slots) EXPECT_FALSE(s);
}

TEST(VerdictSlots, RoundTripKeepsEveryFieldButTheEmail) {
    VerdictSlots slots(3);
    slots[1] = sample();
    auto back = decode_slots(encode_slots(slots), 3);
    ASSERT_TRUE(back);
    EXPECT_FALSE((*back)[0]);
    EXPECT_FALSE((*back)[2]);
    ASSERT_TRUE((*back)[1]);
    const auto& r = *(*back)[1];
    EXPECT_EQ(r.email, "");
    EXPECT_EQ(r.status, ev::Status::Risky);
    EXPECT_EQ(r.reason, ev::Reason::CatchAll);
    EXPECT_EQ(r.level, ev::Level::Smtp);
    EXPECT_EQ(r.is_catch_all, std::optional<bool>(true));
    EXPECT_FALSE(r.is_role);
    EXPECT_EQ(r.mx_host, std::optional<std::string>("mx.example.test"));
    EXPECT_EQ(r.smtp_code, std::optional<int>(250));
    EXPECT_EQ(r.score, 60);
    EXPECT_DOUBLE_EQ(r.checked_at_unix, 1.75e9);
    EXPECT_DOUBLE_EQ(r.duration_ms, 12.5);
}

TEST(VerdictSlots, WrongSizeOrDamagedBytesAreRefused) {
    VerdictSlots slots(2);
    slots[0] = sample();
    std::string bytes = encode_slots(slots);
    EXPECT_FALSE(decode_slots(bytes, 3));
    EXPECT_FALSE(decode_slots(bytes.substr(0, bytes.size() - 1), 2));
    EXPECT_FALSE(decode_slots(bytes + "x", 2));
    std::string other_version = bytes;
    other_version[0] = 9;
    EXPECT_FALSE(decode_slots(other_version, 2));
}
