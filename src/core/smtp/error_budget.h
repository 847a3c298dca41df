// How many refused RCPTs one session may collect at a host: the error
// budget, learned per host from what its sessions saw.
//
// Servers punish a client that makes many errors: Postfix answers every
// command a second late after 10 errors (smtpd_soft_error_limit,
// smtpd_error_sleep_time) and says "421 4.7.0 Error: too many errors" at 20;
// others drop the connection. Many servers do none of that. A host nothing
// is known of gets the safe budget (SessionConfig::max_errors, 9: under
// Postfix's 10); a host whose sessions spend their whole budget without a
// sign of a limit gets a larger one, up to SessionConfig::max_errors_learned;
// a host that showed a limit after N refusals gets N-1 from then on, never
// more. Only one session at a time tries a budget larger than the last one
// that went well, and it sends the refusals past that one at a time, so the
// limit it may meet costs one slowed reply and is told exactly.
#pragma once

namespace ev::smtp {

struct SessionConfig;

// What one session saw of the server's error limits (SessionReport::errors).
struct ErrorEvidence {
    int budget = 0;         // the refusals the session was allowed
    int pipelined = 0;      // of them, those it could send without waiting
    int refusals = 0;       // 4xx/5xx replies to its RCPTs (not counting a 421)
    int slowed_after = 0;   // > 0: replies came slowed once this many refusals were made
    int cut_after = 0;      // > 0: a 421 or a dropped connection ended it after this many
    bool finished = false;  // it ended with QUIT (SessionEnd::Finished)
};

// A host's learned budget: a small copyable value, so that it can live
// wherever per-host knowledge is kept.
struct ErrorBudgetFact {
    int budget = 0;           // refusals a session may collect; 0: nothing learned yet
    int pipelined = 0;        // of them, those a session may send without waiting (known to pass)
    bool limit_seen = false;  // a limit showed itself: the budget stays under it
    bool trying = false;      // a session is out trying `budget` > `pipelined`
};

// Sets config.max_errors and config.pipelined_errors for a session about to
// open at the host; the first session to get a budget above `pipelined` is
// the one that tries it (fact.trying) until its report comes back.
void take_error_budget(ErrorBudgetFact& fact, SessionConfig& config);

// Folds a finished session's evidence into the host's fact. `config` is the
// probe's configuration (the safe budget and the ceiling), not the session's.
void learn_error_budget(ErrorBudgetFact& fact, const ErrorEvidence& seen, const SessionConfig& config);

}  // namespace ev::smtp
