// The network-free part of every verification: syntax, risk-list flags and
// the typo suggestion. Levels dns and smtp start from its findings.
#pragma once

#include <string_view>

#include "address.h"
#include "risk_lists.h"
#include "typo_suggester.h"
#include "verdict.h"
#include "verification_result.h"

namespace ev {

struct OfflineFindings {
    ParsedAddress address;
    Findings findings;          // syntax / disposable / role_account; the prober adds its own
    VerificationResult result;  // filled as far as level syntax allows
    // Set by the prober: the verdict rests on an answer from the network (a
    // route lookup that did not end in dns_error, or an SMTP reply).
    bool network_answered = false;
    // Set by the prober: never probed, because its MX site's politeness
    // budget (sessions, rates) stayed spent past ProbeSettings::permit_wait.
    bool deferred = false;
};

class SyntaxVerifier {
  public:
    SyntaxVerifier(const RiskLists& lists, const TypoSuggester& suggester) : lists_(lists), suggester_(suggester) {}

    // Everything level syntax knows; result.status/reason/score decided as
    // for level syntax.
    OfflineFindings examine(std::string_view input, const SyntaxOptions& options) const;

    VerificationResult verify(std::string_view input, const SyntaxOptions& options) const {
        return examine(input, options).result;
    }

    // The corrected whole address for a likely typo, else nullopt.
    std::optional<std::string> suggest(const ParsedAddress& address) const;

  private:
    const RiskLists& lists_;
    const TypoSuggester& suggester_;
};

// Stamps status, reason and score from findings (the level's own "valid"
// reason is added by the caller before this).
void decide(const Findings& findings, VerificationResult* result);

}  // namespace ev
