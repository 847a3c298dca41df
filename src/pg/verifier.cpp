#include "verifier.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "guard.h"
#include "list_cache.h"
#include "prober/engine.h"
#include "prober_state.h"
#include "settings.h"
#include "syntax_verifier.h"
#include "text_io.h"

namespace ev::pg {

namespace {

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void require_network_privilege(ev::Level level) {
    bool allowed = false;
    pg_call([&] {
        if (superuser()) {
            allowed = true;
            return;
        }
        Oid role = get_role_oid(kProberRole, true);
        allowed = OidIsValid(role) && has_privs_of_role(GetUserId(), role);
    });
    if (!allowed)
        throw UserError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "permission denied to verify at level \"" + std::string(ev::to_string(level)) + "\"",
                        std::string("Levels dns and smtp send network traffic: a superuser must GRANT ") +
                            kProberRole + " TO the role. Level 'syntax' needs no privilege.");
}

std::string cache_key(ev::Level level, const ev::OfflineFindings& item) {
    return std::string(ev::to_string(level)) + ' ' + item.address.normalized();
}

// Between event-loop turns: a cancel or statement_timeout unwinds the probe
// (its sockets close) and is raised at the SQL boundary.
void poll_interrupts() {
    check_for_interrupts();
    if (!PostmasterIsAlive())
        throw UserError(ERRCODE_ADMIN_SHUTDOWN, "email_verify: the postmaster died during a probe");
}

// Probes the items; the run's counters are kept even when a cancel cuts it short.
void run_engine(std::vector<ev::OfflineFindings>& items, ev::Level level, const ev::prober::ProbeSettings& settings,
                ev::prober::ProberCaches& caches) {
    try {
        ev::prober::Engine engine(settings, caches);
        try {
            engine.run(items, level, poll_interrupts);
        } catch (...) {
            add_to_totals(engine.stats());
            throw;
        }
        add_to_totals(engine.stats());
    } catch (const std::invalid_argument& e) {
        // A DNS server list c-ares refuses (the GUC check catches most).
        throw UserError(ERRCODE_INVALID_PARAMETER_VALUE, e.what());
    }
}

}  // namespace

ev::Level level_arg(FunctionCallInfo fcinfo, int n) {
    auto text = text_arg(fcinfo, n);
    ev::Level level = default_level();
    if (text) {
        auto parsed = ev::parse_level(*text);
        if (!parsed)
            throw UserError(ERRCODE_INVALID_PARAMETER_VALUE,
                            "invalid verification level \"" + std::string(*text) + "\"",
                            "The level is 'syntax', 'dns' or 'smtp' (NULL: email_verify.default_level).");
        level = *parsed;
    }
    if (level != ev::Level::Syntax) require_network_privilege(level);
    return level;
}

ev::VerificationResult verify_address(std::string_view input, ev::Level level) {
    if (level != ev::Level::Syntax) return std::move(verify_addresses({input}, level).front());
    // Loading the lists is the backend's cost, not this address's.
    ev::SyntaxVerifier verifier(current_risk_lists(), ev::TypoSuggester::builtin());
    auto started = std::chrono::steady_clock::now();
    ev::VerificationResult result = verifier.verify(input, syntax_options());
    auto finished = std::chrono::steady_clock::now();
    result.duration_ms = std::chrono::duration<double, std::milli>(finished - started).count();
    result.checked_at_unix = unix_now();
    return result;
}

std::vector<ev::VerificationResult> verify_addresses(const std::vector<std::string_view>& inputs, ev::Level level) {
    std::vector<ev::VerificationResult> results(inputs.size());
    if (level == ev::Level::Syntax) {
        for (std::size_t i = 0; i < inputs.size(); ++i) results[i] = verify_address(inputs[i], level);
        return results;
    }
    ev::prober::ProbeSettings settings = probe_settings();
    ev::prober::ProberCaches& caches = backend_caches(settings);
    auto ttl = result_ttl();
    ev::SyntaxVerifier verifier(current_risk_lists(), ev::TypoSuggester::builtin());
    ev::SyntaxOptions options = syntax_options();
    auto now = std::chrono::steady_clock::now();

    std::vector<ev::OfflineFindings> items;
    std::vector<std::size_t> item_input;  // items[k] answers inputs[item_input[k]]
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        auto started = std::chrono::steady_clock::now();
        ev::OfflineFindings found = verifier.examine(inputs[i], options);
        if (found.address.ok() && ttl.count() > 0) {
            if (auto cached = caches.results.find(cache_key(level, found), now)) {
                results[i] = std::move(*cached);
                results[i].email.assign(inputs[i]);
                results[i].from_cache = true;
                results[i].duration_ms =
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
                continue;
            }
        }
        if (!found.address.ok()) found.result.checked_at_unix = unix_now();
        items.push_back(std::move(found));
        item_input.push_back(i);
    }

    bool any_to_probe = std::any_of(items.begin(), items.end(), [](const auto& i) { return i.address.ok(); });
    if (any_to_probe) run_engine(items, level, settings, caches);

    double checked_at = unix_now();
    auto expires = std::chrono::steady_clock::now() + ttl;
    for (std::size_t k = 0; k < items.size(); ++k) {
        ev::VerificationResult& r = items[k].result;
        r.checked_at_unix = checked_at;
        // Unknown verdicts (greylisted, timeouts, ...) are worth asking again
        // soon; only settled ones are reused.
        if (ttl.count() > 0 && items[k].address.ok() && r.status != ev::Status::Unknown)
            caches.results.store(cache_key(level, items[k]), r, expires);
        results[item_input[k]] = std::move(r);
    }
    return results;
}

}  // namespace ev::pg
