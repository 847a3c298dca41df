// The per-host error budget (smtp/error_budget.h) as pure logic: what a
// host nothing is known of gets, how sessions that spent their budget
// without a sign of a limit make it grow (one trying session at a time, up
// to the ceiling), and how a slowdown, a 421 or a drop after N refusals
// brings it to N-1 for good.
#include "smtp/error_budget.h"

#include <gtest/gtest.h>

#include "smtp/session.h"

using ev::smtp::ErrorBudgetFact;
using ev::smtp::ErrorEvidence;
using ev::smtp::SessionConfig;

namespace {

struct Given {
    int max_errors;
    int pipelined;
};

Given take(ErrorBudgetFact& fact, const SessionConfig& probe) {
    SessionConfig config = probe;
    ev::smtp::take_error_budget(fact, config);
    return {config.max_errors, config.pipelined_errors};
}

// A session that ran with `given` and saw `refusals` refusals.
ErrorEvidence saw(Given given, int refusals, int slowed_after = 0, int cut_after = 0, bool finished = true) {
    ErrorEvidence e;
    e.budget = given.max_errors;
    e.pipelined = given.pipelined;
    e.refusals = refusals;
    e.slowed_after = slowed_after;
    e.cut_after = cut_after;
    e.finished = finished;
    return e;
}

}  // namespace

TEST(ErrorBudget, AnUnknownHostGetsTheSafeBudgetAllPipelined) {
    SessionConfig probe;
    ErrorBudgetFact fact;
    Given first = take(fact, probe);
    EXPECT_EQ(first.max_errors, 9);
    EXPECT_EQ(first.pipelined, 9);
    Given second = take(fact, probe);
    EXPECT_EQ(second.max_errors, 9);
    EXPECT_FALSE(fact.trying);
    EXPECT_FALSE(fact.limit_seen);
}

TEST(ErrorBudget, ABudgetSpentWithoutASignGrowsForOneTryingSessionAtATime) {
    SessionConfig probe;
    ErrorBudgetFact fact;
    Given a = take(fact, probe);
    Given b = take(fact, probe);
    ev::smtp::learn_error_budget(fact, saw(a, 9), probe);
    EXPECT_EQ(fact.budget, 36);
    EXPECT_EQ(fact.pipelined, 9);
    // b ran with the old budget: its report confirms 9, and grows nothing more.
    ev::smtp::learn_error_budget(fact, saw(b, 9), probe);
    EXPECT_EQ(fact.budget, 36);

    Given trying = take(fact, probe);
    EXPECT_EQ(trying.max_errors, 36);
    EXPECT_EQ(trying.pipelined, 9);
    EXPECT_TRUE(fact.trying);
    Given meanwhile = take(fact, probe);  // another session while the first tries
    EXPECT_EQ(meanwhile.max_errors, 9);
    EXPECT_EQ(meanwhile.pipelined, 9);

    ev::smtp::learn_error_budget(fact, saw(meanwhile, 9), probe);
    EXPECT_TRUE(fact.trying);  // only the trying session's report ends the try
    ev::smtp::learn_error_budget(fact, saw(trying, 36), probe);
    EXPECT_FALSE(fact.trying);
    EXPECT_EQ(fact.budget, 144);
    EXPECT_EQ(fact.pipelined, 36);
}

TEST(ErrorBudget, GrowthStopsAtTheCeiling) {
    SessionConfig probe;
    probe.max_errors_learned = 100;
    ErrorBudgetFact fact;
    for (int round = 0; round < 10; ++round) {
        Given given = take(fact, probe);
        ev::smtp::learn_error_budget(fact, saw(given, given.max_errors), probe);
    }
    EXPECT_EQ(fact.budget, 100);
    EXPECT_EQ(fact.pipelined, 100);
    EXPECT_EQ(take(fact, probe).max_errors, 100);
}

TEST(ErrorBudget, NoLearningWhenTheCeilingIsTheSafeBudget) {
    SessionConfig probe;
    probe.max_errors = 3;
    probe.max_errors_learned = 3;
    ErrorBudgetFact fact;
    for (int round = 0; round < 3; ++round) {
        Given given = take(fact, probe);
        EXPECT_EQ(given.max_errors, 3);
        ev::smtp::learn_error_budget(fact, saw(given, 3), probe);
    }
    EXPECT_EQ(fact.budget, 3);
}

TEST(ErrorBudget, ASlowdownAfterNRefusalsLeavesNMinusOneForGood) {
    SessionConfig probe;
    ErrorBudgetFact fact;
    ev::smtp::learn_error_budget(fact, saw(take(fact, probe), 9), probe);
    Given trying = take(fact, probe);
    // Postfix: the reply after the 10th error came a second late.
    ev::smtp::learn_error_budget(fact, saw(trying, 11, /*slowed_after=*/10), probe);
    EXPECT_TRUE(fact.limit_seen);
    EXPECT_FALSE(fact.trying);
    EXPECT_EQ(fact.budget, 9);
    EXPECT_EQ(fact.pipelined, 9);
    // Sessions that spend it cleanly do not make it grow again.
    for (int round = 0; round < 3; ++round) {
        Given given = take(fact, probe);
        EXPECT_EQ(given.max_errors, 9);
        ev::smtp::learn_error_budget(fact, saw(given, 9), probe);
    }
    EXPECT_EQ(fact.budget, 9);
}

TEST(ErrorBudget, A421OrADropAfterNRefusalsLeavesNMinusOne) {
    SessionConfig probe;
    ErrorBudgetFact fact;
    ev::smtp::learn_error_budget(fact, saw(take(fact, probe), 5, 0, /*cut_after=*/5, false), probe);
    EXPECT_EQ(fact.budget, 4);
    EXPECT_TRUE(fact.limit_seen);
    // Later evidence never raises it, even a limit found higher.
    ev::smtp::learn_error_budget(fact, saw({36, 9}, 20, 0, /*cut_after=*/20, false), probe);
    EXPECT_EQ(fact.budget, 4);
    // The lower of two signs in one session counts.
    ev::smtp::learn_error_budget(fact, saw({4, 4}, 3, /*slowed_after=*/3, /*cut_after=*/4, false), probe);
    EXPECT_EQ(fact.budget, 2);
    // A limit at the first refusal still leaves one a session: the work goes on.
    ev::smtp::learn_error_budget(fact, saw({2, 2}, 1, 0, /*cut_after=*/1, false), probe);
    EXPECT_EQ(fact.budget, 1);
    EXPECT_EQ(take(fact, probe).max_errors, 1);
}

TEST(ErrorBudget, SessionsThatDidNotSpendTheirBudgetTeachNothing) {
    SessionConfig probe;
    ErrorBudgetFact fact;
    Given given = take(fact, probe);
    ev::smtp::learn_error_budget(fact, saw(given, 4), probe);  // the work ran out
    EXPECT_EQ(fact.budget, 9);
    ev::smtp::learn_error_budget(fact, saw(given, 9, 0, 0, /*finished=*/false), probe);  // a timeout
    EXPECT_EQ(fact.budget, 9);
    EXPECT_FALSE(fact.limit_seen);
}

TEST(ErrorBudget, ATryThatEndedEarlyHandsTheTryToTheNextSession) {
    SessionConfig probe;
    ErrorBudgetFact fact;
    ev::smtp::learn_error_budget(fact, saw(take(fact, probe), 9), probe);
    Given trying = take(fact, probe);
    ASSERT_EQ(trying.max_errors, 36);
    ev::smtp::learn_error_budget(fact, saw(trying, 12, 0, 0, /*finished=*/false), probe);  // connection lost
    EXPECT_FALSE(fact.trying);
    EXPECT_EQ(fact.budget, 36);
    EXPECT_EQ(take(fact, probe).max_errors, 36);
}
