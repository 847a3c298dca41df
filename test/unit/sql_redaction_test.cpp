#include "sql_redaction.h"

#include <gtest/gtest.h>

namespace {

using ev::mask_sql_literals;
using ev::may_hold_webhook_secret;

TEST(SqlRedaction, RecognisesCallsThatTakeASecret) {
    EXPECT_TRUE(may_hold_webhook_secret("SELECT email_verify.submit_job(ARRAY['a@b.c'], 'http://x/', 's')"));
    EXPECT_TRUE(may_hold_webhook_secret("select EMAIL_VERIFY.SUBMIT_JOB_FROM_QUERY('q', 'u', 's')"));
    EXPECT_TRUE(may_hold_webhook_secret("SELECT email_verify.register_webhook_endpoint('n', 'u', 's')"));
    EXPECT_TRUE(may_hold_webhook_secret("SELECT email_verify.rotate_webhook_secret('n', 's')"));
    EXPECT_TRUE(may_hold_webhook_secret("parameters: $1 = 'whsec_abc'"));
    EXPECT_FALSE(may_hold_webhook_secret("SELECT email_verify.job_status(1)"));
    EXPECT_FALSE(may_hold_webhook_secret(""));
}

TEST(SqlRedaction, MasksEveryStringLiteral) {
    EXPECT_EQ(mask_sql_literals("SELECT f('a', 'it''s', E'x\\'y', 3)"), "SELECT f('***', '***', E'***', 3)");
    EXPECT_EQ(mask_sql_literals("SELECT f($$se'cret$$, $t$x$$y$t$)"), "SELECT f($$***$$, $t$***$t$)");
    EXPECT_EQ(mask_sql_literals("SELECT f($1, $2) WHERE a$b$ = 1"), "SELECT f($1, $2) WHERE a$b$ = 1");
    EXPECT_EQ(mask_sql_literals("parameters: $1 = 'whsec_x', $2 = NULL"), "parameters: $1 = '***', $2 = NULL");
    EXPECT_EQ(mask_sql_literals("no literal"), "no literal");
}

TEST(SqlRedaction, AnUnterminatedLiteralIsMaskedToTheEnd) {
    EXPECT_EQ(mask_sql_literals("SELECT f('secret"), "SELECT f('***'");
    EXPECT_EQ(mask_sql_literals("SELECT f('ends in a backslash\\')"), "SELECT f('***'");
    EXPECT_EQ(mask_sql_literals("SELECT f($q$secret"), "SELECT f($q$***$q$");
}

}  // namespace
