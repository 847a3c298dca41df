#include "jobs/job_builder.h"

#include <gtest/gtest.h>

#include <string>

using ev::jobs::JobBuilder;
using ev::jobs::kAddressChunk;

TEST(JobBuilder, DuplicatesShareTheOrdinalOfTheirFirstInput) {
    JobBuilder job;
    EXPECT_EQ(job.add("a@x.test"), 0);
    EXPECT_EQ(job.add("b@x.test"), 1);
    EXPECT_EQ(job.add(" a@X.TEST "), 0);  // the same address_key
    EXPECT_EQ(job.add("A@x.test"), 2);    // the local part's case matters
    EXPECT_EQ(job.inputs(), 4);
    EXPECT_EQ(job.addresses(), 3);
    EXPECT_EQ(job.chunk_copies(0), (std::vector<std::int32_t>{2, 1, 1}));
    auto keys = job.chunk_keys(0);
    ASSERT_EQ(keys.size(), 3u);
    EXPECT_EQ(keys[0], "a@x.test");
    EXPECT_EQ(keys[2], "A@x.test");
}

TEST(JobBuilder, AddressesAreCutIntoChunksInOrdinalOrder) {
    JobBuilder job;
    const int n = kAddressChunk * 2 + 7;
    for (int i = 0; i < n; ++i) ASSERT_EQ(job.add("u" + std::to_string(i) + "@x.test"), i);
    // Every address again: no new ordinal, the table grew past its first size.
    for (int i = n - 1; i >= 0; --i) ASSERT_EQ(job.add("u" + std::to_string(i) + "@X.test"), i);
    EXPECT_EQ(job.address_chunks(), 3);
    EXPECT_EQ(job.chunk_keys(1).front(), "u" + std::to_string(kAddressChunk) + "@x.test");
    EXPECT_EQ(job.chunk_keys(2).size(), 7u);
    EXPECT_EQ(job.chunk_copies(2), std::vector<std::int32_t>(7, 2));
    EXPECT_TRUE(job.chunk_keys(3).empty());
    EXPECT_TRUE(job.chunk_copies(3).empty());
}

TEST(JobBuilder, EmptyAndOddInputsAreAddressesLikeAnyOther) {
    JobBuilder job;
    EXPECT_EQ(job.add(""), 0);
    EXPECT_EQ(job.add("   "), 0);  // trimmed to the same empty key
    EXPECT_EQ(job.add(std::string("a\0b", 3)), 1);
    EXPECT_EQ(job.add(std::string("a\0c", 3)), 2);
    EXPECT_EQ(job.chunk_copies(0), (std::vector<std::int32_t>{2, 1, 1}));
}
