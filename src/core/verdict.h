// Status/reason vocabulary (README.md, "The result") and the rule that picks
// one reason when several findings apply to the same address.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ev {

enum class Status : std::uint8_t { Valid, Invalid, Risky, Unknown };

// Declared in precedence order: the README says invalid reasons first (in
// table order), then risky (in table order), then unknown, then valid.
// Keeping the enum in that order makes "pick the winning reason" a plain
// minimum.
enum class Reason : std::uint8_t {
    Syntax,
    NoDomain,
    NullMx,
    NoMailServer,
    MailboxNotFound,
    MailboxDisabled,
    Disposable,
    MailboxFull,
    CatchAll,
    RoleAccount,
    Greylisted,
    TemporaryFailure,
    SmtpBlocked,
    Timeout,
    ConnectionFailed,
    DnsError,
    Accepted,
    SyntaxOk,
    DomainOk,
};

enum class Level : std::uint8_t { Syntax, Dns, Smtp };

Status status_of(Reason reason);
std::string_view to_string(Status status);
std::string_view to_string(Reason reason);
std::string_view to_string(Level level);
std::optional<Level> parse_level(std::string_view text);
// The names to_string gives, read back (exactly: they are stored, not typed).
std::optional<Status> parse_status(std::string_view text);
std::optional<Reason> parse_reason(std::string_view text);

// Collects every reason that applies to one address and answers the one
// the precedence picks.
class Findings {
  public:
    void add(Reason reason);
    bool has(Reason reason) const { return (bits_ & bit(reason)) != 0; }
    bool empty() const { return bits_ == 0; }
    Reason decisive() const;  // precondition: !empty()
    // As one number (bit n: Reason n), for keeping beside a cached verdict.
    std::uint32_t bits() const { return bits_; }
    static Findings from_bits(std::uint32_t bits) {
        Findings f;
        f.bits_ = bits;
        return f;
    }

  private:
    static std::uint32_t bit(Reason r) { return 1u << static_cast<unsigned>(r); }
    std::uint32_t bits_ = 0;
};

// 0-100: how likely mail to this address is delivered, from the winning
// reason, adjusted down when a typo suggestion exists.
int delivery_score(Reason reason, bool has_suggestion);

}  // namespace ev
