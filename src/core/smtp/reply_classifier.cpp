#include "smtp/reply_classifier.h"

#include <string>

#include "text.h"

namespace ev::smtp {

namespace {

// Phrase lists, all lower-case, matched as substrings of the lower-cased
// reply text. They only decide where the reply class and the enhanced code
// do not: text alone misfires (postgrey's "450 4.2.0 Recipient address
// rejected: Greylisted" names a refused recipient).

// The server refuses the prober (its IP, name, reputation or envelope
// sender), not the mailbox. "relay" covers "Relay access denied", "unable to
// relay", "relaying denied": the MX does not take mail for that domain from
// us, which says nothing about the mailbox either.
constexpr std::string_view kBlockPhrases[] = {
    "blocked",
    "block list",
    "blocklist",
    "blacklist",
    "black list",
    "denylist",
    "deny list",
    "spamhaus",
    "spamcop",
    "sorbs",
    "barracuda",
    "dnsbl",
    "reputation",
    "banned",
    "access denied",
    "reverse hostname",
    "reverse dns",
    "cannot find your hostname",
    "client host rejected",
    "helo command rejected",
    "relay",
    "rcpthosts",
};

// Our MAIL FROM address was refused, possibly only at RCPT time (Postfix
// delays MAIL FROM restrictions to RCPT by default, smtpd_delay_reject).
constexpr std::string_view kSenderPhrases[] = {
    "sender address rejected", "sender rejected", "sender verify failed",
    "sender verification",     "sender domain",   "unverified sender",
};

// The recipient is not there. Strong forms only: they are trusted even
// under a 5.7.x code (Yandex answers unknown users "550 5.7.1 No such user!").
constexpr std::string_view kUnknownUserPhrases[] = {
    "user unknown",        "unknown user",       "no such user",
    "no such mailbox",     "no such recipient",  "no such account",
    "does not exist",      "doesn't exist",      "not exist",
    "unknown recipient",   "recipient unknown",  "recipient not found",
    "user not found",      "mailbox not found",  "address not found",
    "no mailbox",          "invalid recipient",  "invalid mailbox",
    "invalid user",        "doesn't have a",     "does not have an account",
    "unrouteable address", "unroutable address",
};

// Weaker forms that name a refused recipient without saying why. At RCPT a
// 5xx is a refusal of the recipient anyway (RFC 5321 4.2.1), so these only
// matter against the command-level codes 500-504.
constexpr std::string_view kRecipientRefusedPhrases[] = {
    "mailbox unavailable", "mailbox is unavailable", "not found",
    "address rejected",    "recipient rejected",     "invalid address",
    "bad address",         "address syntax",         "not a valid",
};

constexpr std::string_view kDisabledPhrases[] = {
    "disabled",     "inactive",       "deactivated",
    "discontinued", "suspended",      "no longer active",
    "not active",   "account closed", "account has been closed",
};

// Over quota whatever the code (Yahoo: "554 delivery error: dd ... This
// account is over quota").
constexpr std::string_view kFullPhrases[] = {
    "over quota",     "overquota",        "quota exceeded",  "exceeded quota",     "exceeds quota",
    "quota exceed",   "mailbox full",     "mailbox is full", "inbox is full",      "full mailbox",
    "out of storage", "exceeded storage", "storage space",   "storage allocation",
};

// Words that only mean "mailbox full" under 452/552, the codes RFC 5321
// gives to storage problems. "full" is matched as a word ("fully-qualified").
constexpr std::string_view kWeakFullPhrases[] = {"quota", "storage", "insufficient"};

// The server's own disk ("452 4.3.1 Insufficient system storage"), not the
// mailbox: temporary, not mailbox_full.
constexpr std::string_view kSystemStoragePhrases[] = {
    "system storage",
    "insufficient system",
    "system resources",
};

constexpr std::string_view kTooManyRecipientsPhrases[] = {
    "too many recipient",
    "too many rcpt",
    "recipient limit",
    "recipients limit",
};

// The mailbox or the server is busy or rate-limiting us (Gmail "450 4.2.1
// ... receiving mail at a rate ..."): the address may well exist; come back
// much later, which is not the short greylisting delay.
constexpr std::string_view kRatePhrases[] = {
    "at a rate",    "too quickly",          "rate limit",        "rate-limit", "ratelimit",
    "rate limited", "too many connections", "too many messages", "busy",
};

// Trouble on the server's side (Exim "451 Temporary local problem - please
// try later"): a temporary failure even when it also says "try later".
constexpr std::string_view kLocalProblemPhrases[] = {
    "local problem",           "local error",
    "internal error",          "system problem",
    "temporarily unavailable", "temporarily not available",
};

// Asks to come back after a delay: greylisting proper, and the phrases
// greylisting filters use (postgrey "Greylisted", rspamd "Try again later").
constexpr std::string_view kGreylistPhrases[] = {
    "greylist",         "graylist",        "grey-list",    "gray-list",   "grey list",
    "gray list",        "try again later", "try later",    "retry later", "come back later",
    "please try again", "please retry",    "try again in", "retry in",
};

template <std::size_t N>
bool contains_any(std::string_view lower, const std::string_view (&phrases)[N]) {
    for (std::string_view p : phrases)
        if (lower.find(p) != std::string_view::npos) return true;
    return false;
}

// Letters and digits only: "ERS-RBL" names an RBL.
bool is_word_byte(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Short tokens like "rbl" or "full" also occur inside longer words
// ("marble", "fully-qualified"), so they must stand alone.
bool contains_word(std::string_view lower, std::string_view word) {
    for (std::size_t at = lower.find(word); at != std::string_view::npos; at = lower.find(word, at + 1)) {
        bool starts = at == 0 || !is_word_byte(lower[at - 1]);
        std::size_t end = at + word.size();
        bool ends = end == lower.size() || !is_word_byte(lower[end]);
        if (starts && ends) return true;
    }
    return false;
}

bool names_sender(std::string_view lower) { return contains_any(lower, kSenderPhrases); }

bool names_block(std::string_view lower) {
    return contains_any(lower, kBlockPhrases) || contains_word(lower, "rbl") || names_sender(lower);
}

bool says_mailbox_full(int code, std::string_view lower) {
    if (contains_any(lower, kFullPhrases)) return true;
    if (code != 452 && code != 552) return false;
    return contains_word(lower, "full") || contains_any(lower, kWeakFullPhrases);
}

// The enhanced code, when it agrees with the reply class; the reader
// guarantees that, a Reply built by hand might not.
const EnhancedCode* usable_enhanced(const Reply& reply) {
    if (reply.enhanced && reply.enhanced->klass == reply.klass()) return &*reply.enhanced;
    return nullptr;
}

// A 4xx anywhere but RCPT-specific cases: busy or broken server first, then
// "come back later", else plain temporary.
Meaning classify_temporary(std::string_view lower) {
    if (contains_any(lower, kRatePhrases) || contains_any(lower, kLocalProblemPhrases))
        return Meaning::TemporaryFailure;
    if (contains_any(lower, kGreylistPhrases)) return Meaning::Greylisted;
    return Meaning::TemporaryFailure;
}

// 4xx to RCPT TO: never a permanent verdict, at most mailbox_full (risky),
// for 4.2.2, mailbox full (RFC 3463; Gmail's "452 4.2.2 ... OverQuotaTemp").
Meaning classify_rcpt_temporary(int code, const EnhancedCode* e, std::string_view lower) {
    if (e) {
        if (e->subject == 2 && e->detail == 2) return Meaning::MailboxFull;
        if (e->subject == 5 && e->detail == 3) return Meaning::TooManyRecipients;
        if (e->subject == 3 && e->detail == 1) return Meaning::TemporaryFailure;  // mail system full
    }
    if (contains_any(lower, kTooManyRecipientsPhrases)) return Meaning::TooManyRecipients;
    if (contains_any(lower, kSystemStoragePhrases)) return Meaning::TemporaryFailure;
    if (says_mailbox_full(code, lower)) return Meaning::MailboxFull;
    return classify_temporary(lower);
}

// 5xx to RCPT TO, decided by the enhanced code where it is specific enough.
// nullopt: the code leaves it to the text.
std::optional<Meaning> rcpt_permanent_by_code(const EnhancedCode& e, std::string_view lower) {
    switch (e.subject) {
        case 1:  // addressing
            // 5.1.7 / 5.1.8 are the *sender's* address: our MAIL FROM.
            if (e.detail == 7 || e.detail == 8) return Meaning::Blocked;
            // The rest (5.1.1, 5.1.10, 5.1.6, ...) are the recipient's address.
            return Meaning::MailboxNotFound;
        case 2:  // mailbox
            if (e.detail == 1) {
                // Gmail "550 5.2.1 ... receiving mail at a rate ..." (ReceivingRatePerm):
                // the mailbox exists and works, it is just flooded.
                if (contains_any(lower, kRatePhrases)) return Meaning::TemporaryFailure;
                return Meaning::MailboxDisabled;
            }
            if (e.detail == 2) return Meaning::MailboxFull;
            return std::nullopt;
        case 3:  // mail system
            // 5.3.1 is the server's own disk, full: not the mailbox.
            if (e.detail == 1) return Meaning::TemporaryFailure;
            return std::nullopt;
        case 4:  // routing
            // Exchange Online's directory-based edge blocking answers unknown
            // users "550 5.4.1 Recipient address rejected: Access denied".
            if (e.detail == 1 && lower.find("recipient address rejected") != std::string_view::npos)
                return Meaning::MailboxNotFound;
            return std::nullopt;
        case 5:  // protocol
            if (e.detail == 3) return Meaning::TooManyRecipients;
            return std::nullopt;
        case 7:  // security or policy: about the prober, unless plainly a user
            if (!names_block(lower) && contains_any(lower, kUnknownUserPhrases)) return Meaning::MailboxNotFound;
            return Meaning::Blocked;
        default: return std::nullopt;
    }
}

// 5xx to RCPT TO without a deciding enhanced code. Ambiguous texts lean to the
// non-invalid side (blocked, full) before the invalid ones.
Meaning rcpt_permanent_by_text(int code, std::string_view lower) {
    if (names_block(lower)) return Meaning::Blocked;
    if (contains_any(lower, kTooManyRecipientsPhrases)) return Meaning::TooManyRecipients;
    if (contains_any(lower, kSystemStoragePhrases)) return Meaning::TemporaryFailure;
    if (says_mailbox_full(code, lower)) return Meaning::MailboxFull;
    if (contains_any(lower, kRatePhrases)) return Meaning::TemporaryFailure;
    if (contains_any(lower, kDisabledPhrases)) return Meaning::MailboxDisabled;
    if (contains_any(lower, kUnknownUserPhrases) || contains_any(lower, kRecipientRefusedPhrases))
        return Meaning::MailboxNotFound;
    // 500-504 are about the command itself (syntax, sequence, "need MAIL
    // command" after a refused MAIL FROM), not about the mailbox.
    if (code >= 500 && code <= 504) return Meaning::ProtocolError;
    // RFC 5321 4.2.1: a 5yz to RCPT is a permanent refusal of the recipient.
    return Meaning::MailboxNotFound;
}

Meaning classify_rcpt(const Reply& reply, std::string_view lower) {
    const EnhancedCode* e = usable_enhanced(reply);
    if (reply.klass() == 4) return classify_rcpt_temporary(reply.code, e, lower);
    // "Sender address rejected" says which address is meant, whatever the
    // code (Postfix: "550 5.1.0 <us>: Sender address rejected: User unknown").
    if (names_sender(lower)) return Meaning::Blocked;
    if (e) {
        if (auto meaning = rcpt_permanent_by_code(*e, lower)) return *meaning;
    }
    return rcpt_permanent_by_text(reply.code, lower);
}

Meaning classify_banner(const Reply& reply, std::string_view /*lower*/) {
    // Any 5xx greeting (554 by RFC 5321 3.1, others in the wild) refuses us.
    return reply.klass() == 4 ? Meaning::TemporaryFailure : Meaning::Blocked;
}

// EHLO/HELO: a plain 5xx usually means "EHLO not supported" and the caller
// falls back to HELO; a policy text means the server will not talk to us.
Meaning classify_greeting(const Reply& reply, std::string_view lower) {
    if (reply.klass() == 4) return Meaning::TemporaryFailure;
    const EnhancedCode* e = usable_enhanced(reply);
    if ((e && e->subject == 7) || names_block(lower)) return Meaning::Blocked;
    return Meaning::Rejected;
}

Meaning classify_mail_from(const Reply& reply, std::string_view lower) {
    if (reply.klass() == 4) return classify_temporary(lower);
    const EnhancedCode* e = usable_enhanced(reply);
    if (reply.code == 554 || (e && e->subject == 7) || names_block(lower)) return Meaning::Blocked;
    return Meaning::Rejected;
}

}  // namespace

bool mentions_block(std::string_view text) { return names_block(text::ascii_lowercase(text)); }

Meaning classify(const Reply& reply, Stage stage) {
    if (reply.code < 200 || reply.code > 599) return Meaning::ProtocolError;
    switch (reply.klass()) {
        case 2: return Meaning::Accepted;
        case 3: return Meaning::ProtocolError;  // we never send DATA
        default: break;
    }
    // 421 closes the session whatever was asked, even "421 4.7.0 Too many
    // errors" at RCPT: the caller must reconnect, it is not a verdict.
    if (reply.code == 421) return Meaning::ServiceClosing;

    std::string lower = text::ascii_lowercase(reply.text);
    switch (stage) {
        case Stage::Banner: return classify_banner(reply, lower);
        case Stage::Ehlo:
        case Stage::Helo: return classify_greeting(reply, lower);
        case Stage::StartTls: return Meaning::Rejected;  // the caller goes on in clear text if allowed
        case Stage::MailFrom: return classify_mail_from(reply, lower);
        case Stage::RcptTo: return classify_rcpt(reply, lower);
        case Stage::Rset: return reply.klass() == 4 ? Meaning::TemporaryFailure : Meaning::Rejected;
    }
    return Meaning::ProtocolError;
}

std::optional<Reason> reason_for(Meaning meaning) {
    switch (meaning) {
        case Meaning::MailboxNotFound: return Reason::MailboxNotFound;
        case Meaning::MailboxDisabled: return Reason::MailboxDisabled;
        case Meaning::MailboxFull: return Reason::MailboxFull;
        case Meaning::Greylisted: return Reason::Greylisted;
        case Meaning::TemporaryFailure:
        case Meaning::ProtocolError:  // a confused server says nothing about the address
            return Reason::TemporaryFailure;
        case Meaning::Blocked:
        // A 5xx to EHLO/MAIL FROM without policy text still means the server
        // will not hold the dialogue with us: closest to smtp_blocked.
        case Meaning::Rejected: return Reason::SmtpBlocked;
        case Meaning::Accepted:
        case Meaning::TooManyRecipients:
        case Meaning::ServiceClosing: return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace ev::smtp
