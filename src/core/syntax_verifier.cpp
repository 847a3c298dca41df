#include "syntax_verifier.h"

namespace ev {

void decide(const Findings& findings, VerificationResult* result) {
    result->reason = findings.decisive();
    result->status = status_of(result->reason);
    result->score = delivery_score(result->reason, result->suggestion.has_value());
}

std::optional<std::string> SyntaxVerifier::suggest(const ParsedAddress& address) const {
    if (address.domain_is_literal) return std::nullopt;
    auto domain = suggester_.suggest(address.domain, lists_);
    if (!domain) return std::nullopt;
    std::string corrected = address.local + '@' + *domain;
    // A longer domain can push an address past the length limits: never
    // suggest something that is itself not well formed.
    SyntaxOptions relaxed{true, false};
    if (!parse_address(corrected, relaxed).ok()) return std::nullopt;
    return corrected;
}

OfflineFindings SyntaxVerifier::examine(std::string_view input, const SyntaxOptions& options) const {
    OfflineFindings out;
    VerificationResult& r = out.result;
    r.email.assign(input);
    r.level = Level::Syntax;
    out.address = parse_address(input, options);
    const ParsedAddress& a = out.address;
    if (!a.ok()) {
        out.findings.add(Reason::Syntax);
        decide(out.findings, &r);
        return out;
    }
    r.normalized = a.normalized();
    r.is_role = lists_.is_role(unquoted_local(a));
    r.is_disposable = !a.domain_is_literal && lists_.is_disposable(a.domain);
    r.is_free = !a.domain_is_literal && lists_.is_free(a.domain);
    r.suggestion = suggest(a);
    if (*r.is_disposable) out.findings.add(Reason::Disposable);
    if (*r.is_role) out.findings.add(Reason::RoleAccount);
    Findings with_level = out.findings;
    with_level.add(Reason::SyntaxOk);
    decide(with_level, &r);
    return out;
}

}  // namespace ev
