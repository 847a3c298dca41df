-- email_verify 0.6.0: the signup decision (policies, a time budget, consumer
-- limits) and stricter syntax and typo verdicts. Each part below is its
-- source file (extension/src/) as it is, or the statements that change an
-- object of 0.5.0.
\echo Use "ALTER EXTENSION email_verify UPDATE TO '0.6.0'" to load this file. \quit
