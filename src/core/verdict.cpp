#include "verdict.h"

#include <array>

#include "text.h"

namespace ev {

namespace {

struct ReasonInfo {
    std::string_view name;
    Status status;
    int score;  // see README "Score"
};

// Indexed by Reason; order must match the enum.
constexpr std::array<ReasonInfo, 19> kReasons = {{
    {"syntax", Status::Invalid, 0},
    {"no_domain", Status::Invalid, 0},
    {"null_mx", Status::Invalid, 0},
    {"no_mail_server", Status::Invalid, 0},
    {"mailbox_not_found", Status::Invalid, 0},
    {"mailbox_disabled", Status::Invalid, 0},
    {"disposable", Status::Risky, 10},
    {"mailbox_full", Status::Risky, 30},
    {"catch_all", Status::Risky, 50},
    {"role_account", Status::Risky, 60},
    {"greylisted", Status::Unknown, 40},
    {"temporary_failure", Status::Unknown, 40},
    {"smtp_blocked", Status::Unknown, 40},
    {"timeout", Status::Unknown, 40},
    {"connection_failed", Status::Unknown, 30},
    {"dns_error", Status::Unknown, 30},
    {"accepted", Status::Valid, 95},
    {"syntax_ok", Status::Valid, 50},
    {"domain_ok", Status::Valid, 70},
}};

const ReasonInfo& info(Reason r) { return kReasons[static_cast<std::size_t>(r)]; }

}  // namespace

Status status_of(Reason reason) { return info(reason).status; }

std::string_view to_string(Reason reason) { return info(reason).name; }

std::string_view to_string(Status status) {
    switch (status) {
        case Status::Valid: return "valid";
        case Status::Invalid: return "invalid";
        case Status::Risky: return "risky";
        case Status::Unknown: return "unknown";
    }
    return "unknown";
}

std::string_view to_string(Level level) {
    switch (level) {
        case Level::Syntax: return "syntax";
        case Level::Dns: return "dns";
        case Level::Smtp: return "smtp";
    }
    return "syntax";
}

// Case-insensitive, as the email_verify.default_level setting is.
std::optional<Level> parse_level(std::string_view text) {
    if (text::iequals_ascii(text, "syntax")) return Level::Syntax;
    if (text::iequals_ascii(text, "dns")) return Level::Dns;
    if (text::iequals_ascii(text, "smtp")) return Level::Smtp;
    return std::nullopt;
}

std::optional<Status> parse_status(std::string_view text) {
    for (Status s : {Status::Valid, Status::Invalid, Status::Risky, Status::Unknown})
        if (to_string(s) == text) return s;
    return std::nullopt;
}

std::optional<Reason> parse_reason(std::string_view text) {
    for (std::size_t i = 0; i < kReasons.size(); ++i)
        if (to_string(static_cast<Reason>(i)) == text) return static_cast<Reason>(i);
    return std::nullopt;
}

void Findings::add(Reason reason) { bits_ |= bit(reason); }

Reason Findings::decisive() const {
    for (std::size_t i = 0; i < kReasons.size(); ++i) {
        auto r = static_cast<Reason>(i);
        if (has(r)) return r;
    }
    return Reason::Syntax;
}

int delivery_score(Reason reason, bool has_suggestion) {
    int score = info(reason).score;
    // A likely typo means the sender probably meant another address.
    if (has_suggestion) score = score > 30 ? score - 30 : 0;
    return score;
}

}  // namespace ev
