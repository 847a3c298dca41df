// Keeps SOCKS5 proxy passwords and webhook secrets out of the server log.
//
// email_verify.socks5_proxy is set in the server's configuration, and
// PostgreSQL itself writes configuration values to the log: the postmaster
// logs `parameter "..." changed to "..."` for each setting a reload changes,
// log_statement logs an ALTER SYSTEM with its value, and a failed statement
// is logged with its text. An emit_log_hook, in every process that loaded
// the module, masks the credentials of any socks5:// URL in a message and
// leaves the statement out of messages about a statement that holds one.
// Webhook secrets are arguments of submit_job, register_webhook_endpoint
// and rotate_webhook_secret: the string literals of a logged call to them
// (and its bind parameters) are masked, and its text left out of messages
// about it (src/core/sql_redaction.h).
// Processes that did not load the module (the postmaster without
// shared_preload_libraries) are out of its reach: README.md says so.
#pragma once

namespace ev::pg {

void SecretLogFilterInit();

}  // namespace ev::pg
