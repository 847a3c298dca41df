// What a reply means for the address being probed. Decided by the reply
// class first, the enhanced status code second and the text last, so that
// "450 4.2.0 Recipient address rejected: Greylisted" is greylisting, not an
// unknown user, and "550 5.7.1 ... Spamhaus" blocks the prober, not the
// mailbox (README.md, "Levels dns and smtp").
#pragma once

#include "smtp/reply.h"
#include "verdict.h"

namespace ev::smtp {

// Where in the dialogue the reply came.
enum class Stage { Banner, Ehlo, Helo, StartTls, MailFrom, RcptTo, Rset };

enum class Meaning {
    Accepted,           // 2xx (3xx never answers these commands; treated as a protocol error)
    MailboxNotFound,    // 5.1.x at RCPT, or 5xx at RCPT whose text says the user is unknown
    MailboxDisabled,    // 5.2.1, "disabled", "inactive", "discontinued"
    MailboxFull,        // X.2.2, or 452/552 whose text says full/quota
    TooManyRecipients,  // 452 / 4.5.3 / 5.5.3 "too many recipients": the transaction, not the mailbox
    Greylisted,         // 4xx that asks to come back later
    TemporaryFailure,   // any other 4xx, 421
    ServiceClosing,     // 421: the server is closing this session (banner or mid-dialogue)
    Blocked,            // the server refuses the prober: 554 banner, 5.7.x, blocklist texts
    Rejected,           // other 5xx outside RCPT (EHLO unsupported, MAIL FROM refused, ...)
    ProtocolError,      // a code that makes no sense where it came
};

// Classifies one reply at one stage. RcptTo is where mailbox meanings arise;
// at other stages a 5xx is Blocked (policy texts, 5.7.x, 554) or Rejected.
Meaning classify(const Reply& reply, Stage stage);

// The reason (README.md, "The result") an address gets when its probe ends
// on this meaning;
// nullopt for Accepted (the caller decides accepted vs catch_all) and for
// meanings that are not verdicts (TooManyRecipients, ServiceClosing: the
// caller retries elsewhere).
std::optional<Reason> reason_for(Meaning meaning);

// True when the text names a blocklist or policy refusal of the prober.
bool mentions_block(std::string_view text);

}  // namespace ev::smtp
