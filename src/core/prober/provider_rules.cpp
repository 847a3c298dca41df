#include "prober/provider_rules.h"

#include "text.h"

namespace ev::prober {

namespace {

constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kMaxHostName = 253;
constexpr std::size_t kMaxLabel = 63;

struct BehaviourName {
    ProviderBehaviour behaviour;
    std::string_view name;
    std::string_view described;  // what smtp_message says of it
};

constexpr BehaviourName kBehaviours[] = {
    {ProviderBehaviour::RevealsMailboxes, "reveals_mailboxes", "refuses unknown recipients at RCPT"},
    {ProviderBehaviour::AcceptsAll, "accepts_all", "accepts every recipient at RCPT, so acceptance proves nothing"},
    {ProviderBehaviour::ThrottlesRcpt, "throttles_rcpt", "answers one recipient per transaction"},
    {ProviderBehaviour::PerDomain, "per_domain", "each hosted domain decides whether unknown recipients are refused"},
    {ProviderBehaviour::Tarpits, "tarpits", "holds probers' connections without answering; not probed"},
    {ProviderBehaviour::Undocumented, "undocumented", "no documented behaviour towards probes"},
};

const BehaviourName& entry_of(ProviderBehaviour behaviour) {
    for (const auto& e : kBehaviours)
        if (e.behaviour == behaviour) return e;
    return kBehaviours[std::size(kBehaviours) - 1];
}

bool is_label_byte(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }

// "mx.Example.COM." -> "mx.example.com"
std::string host_key(std::string_view host) {
    std::string key = text::ascii_lowercase(host);
    if (!key.empty() && key.back() == '.') key.pop_back();
    return key;
}

// The pattern is the host itself or one of its parent domains.
bool covers(std::string_view pattern, std::string_view host) {
    if (host.size() == pattern.size()) return host == pattern;
    if (host.size() < pattern.size() + 1) return false;
    std::size_t at = host.size() - pattern.size();
    return host[at - 1] == '.' && host.substr(at) == pattern;
}

}  // namespace

std::optional<ProviderBehaviour> parse_provider_behaviour(std::string_view text) {
    for (const auto& e : kBehaviours)
        if (e.name == text) return e.behaviour;
    return std::nullopt;
}

std::string_view to_string(ProviderBehaviour behaviour) { return entry_of(behaviour).name; }

std::optional<std::string> normalize_mx_pattern(std::string_view pattern) {
    std::string p = text::ascii_lowercase(pattern);
    while (!p.empty() && p.front() == '.') p.erase(p.begin());
    while (!p.empty() && p.back() == '.') p.pop_back();
    if (p.empty() || p.size() > kMaxHostName) return std::nullopt;
    std::size_t label = 0;
    bool dotted = false;
    for (char c : p) {
        if (c == '.') {
            if (label == 0) return std::nullopt;  // ".." inside
            label = 0;
            dotted = true;
            continue;
        }
        if (!is_label_byte(c) || ++label > kMaxLabel) return std::nullopt;
    }
    if (!dotted) return std::nullopt;
    return p;
}

bool ProviderRules::add(std::string name, ProviderBehaviour behaviour, const std::vector<std::string>& mx_patterns) {
    if (name.empty() || name.size() > kMaxNameBytes || mx_patterns.empty()) return false;
    for (char c : name)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    Provider provider{std::move(name), behaviour, {}};
    for (const auto& pattern : mx_patterns) {
        auto normalized = normalize_mx_pattern(pattern);
        if (!normalized) return false;
        provider.mx_patterns.push_back(std::move(*normalized));
    }
    // Names and patterns hold no control character, so tabs and newlines
    // separate them unambiguously.
    fingerprint_ += provider.name + '\t' + std::string(to_string(behaviour));
    for (const auto& p : provider.mx_patterns) fingerprint_ += '\t' + p;
    fingerprint_ += '\n';
    providers_.push_back(std::move(provider));
    return true;
}

const Provider* ProviderRules::match(std::string_view mx_host) const {
    std::string host = host_key(mx_host);
    const Provider* best = nullptr;
    std::size_t best_length = 0;
    for (const auto& provider : providers_)
        for (const auto& pattern : provider.mx_patterns)
            if (pattern.size() > best_length && covers(pattern, host)) {
                best = &provider;
                best_length = pattern.size();
            }
    return best;
}

const Provider* ProviderRules::for_route(const dns::MailRoute& route) const {
    if (route.outcome != dns::RouteOutcome::Ok || route.implicit_mx || route.hosts.empty()) return nullptr;
    return match(route.hosts.front().name);
}

bool probes_mailboxes(const Provider& provider) { return provider.behaviour != ProviderBehaviour::Tarpits; }

bool assumes_catch_all(const Provider& provider) { return provider.behaviour == ProviderBehaviour::AcceptsAll; }

int rcpt_limit_for(const Provider& provider) { return provider.behaviour == ProviderBehaviour::ThrottlesRcpt ? 1 : 0; }

void apply_provider(const Provider& provider, bool probed, Findings* findings, VerificationResult* result) {
    switch (provider.behaviour) {
        case ProviderBehaviour::Tarpits:
            // The provider is known not to let probers learn anything; the
            // domain's DNS stands, the mailbox is not judged.
            if (!probed) findings->add(Reason::SmtpBlocked);
            break;
        case ProviderBehaviour::AcceptsAll:
            // The engine takes the domain as catch-all already; this covers a
            // catch-all answer cached before the rules said so.
            if (findings->has(Reason::Accepted)) {
                findings->add(Reason::CatchAll);
                result->is_catch_all = true;
            }
            break;
        case ProviderBehaviour::PerDomain:
            // Acceptance is evidence only where this domain was seen to refuse
            // an unknown recipient; not knowing that, it is a question left
            // open, worth asking again (temporary_failure is retried).
            if (findings->has(Reason::Accepted) && !result->is_catch_all.has_value())
                findings->add(Reason::TemporaryFailure);
            break;
        case ProviderBehaviour::RevealsMailboxes:
        case ProviderBehaviour::ThrottlesRcpt:
        case ProviderBehaviour::Undocumented: break;
    }
    // The name is the table's (any text); the message must stay storable in
    // any database encoding, as the server's reply text is.
    std::string note = "(provider: " + text::printable_ascii(provider.name) + " - " +
                       std::string(entry_of(provider.behaviour).described) + ")";
    std::string message = result->smtp_message.value_or(std::string());
    result->smtp_message = message.empty() ? note : message + " " + note;
}

}  // namespace ev::prober
