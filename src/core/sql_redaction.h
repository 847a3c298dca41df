// Keeps webhook secrets out of the server log. PostgreSQL logs statements
// as they are written (log_statement, a failed statement's text), and the
// calls that take a webhook secret take it as an argument: the log filter
// (src/pg/secret_log_filter.cpp) masks the string literals of such text.
#pragma once

#include <string>
#include <string_view>

namespace ev {

// Whether text may carry a webhook secret: it calls one of the functions
// that take one (submit_job, submit_job_from_query, register_webhook_endpoint,
// rotate_webhook_secret), names the webhook_secret argument, or holds a
// "whsec_" secret; in any ASCII case.
bool may_hold_webhook_secret(std::string_view text);

// text with the content of every SQL string literal ('...', E'...', and
// dollar-quoted $tag$...$tag$) replaced by ***. An unterminated literal is
// masked to the end; a backslash escapes the next character, which in a
// standard string only masks more, never less.
std::string mask_sql_literals(std::string_view text);

}  // namespace ev
