#include "risk_lists.h"

#include "address.h"
#include "embedded_lists.h"
#include "text.h"

namespace ev {

bool parse_list_kind(std::string_view name, ListKind* kind) {
    if (name == "disposable") *kind = ListKind::Disposable;
    else if (name == "free") *kind = ListKind::Free;
    else if (name == "role") *kind = ListKind::Role;
    else return false;
    return true;
}

void RiskList::add_override(std::string_view entry, bool listed) { (listed ? added_ : removed_).add(entry); }

void RiskList::clear_overrides() {
    added_.clear();
    removed_.clear();
}

int RiskList::lookup(std::string_view entry) const {
    if (added_.contains(entry)) return 1;
    if (removed_.contains(entry)) return 0;
    if (builtin_.contains(entry)) return 1;
    return -1;
}

RiskLists RiskLists::with_builtin_lists() {
    RiskLists lists;
    lists.disposable_.load_builtin(embedded::disposable_domains());
    lists.free_.load_builtin(embedded::free_domains());
    // Role entries are stored by key so that lookups need one hash probe.
    text::for_each_line(embedded::role_local_parts(),
                        [&lists](std::string_view line) { lists.role_.add_builtin(role_key(line)); });
    return lists;
}

namespace {

// Writes local's role key into out (room for local.size() bytes); returns
// its length.
std::size_t write_role_key(std::string_view local, char* out) {
    std::size_t n = 0;
    for (char c : local) {
        if (c == '+') break;  // sub-addressing tag (RFC 5233)
        if (c == '.' || c == '-' || c == '_') continue;
        out[n++] = text::ascii_lower(c);
    }
    return n;
}

// A local part is at most 64 octets (RFC 5321); longer ones go to the heap.
constexpr std::size_t kRoleKeyOnStack = 64;

}  // namespace

std::string RiskLists::role_key(std::string_view local) {
    std::string key(local.size(), '\0');
    key.resize(write_role_key(local, key.data()));
    return key;
}

bool RiskLists::add_override(ListKind kind, std::string_view entry, bool listed) {
    std::string_view trimmed = text::trim_ascii_whitespace(entry);
    if (trimmed.empty() || !text::is_valid_utf8(trimmed)) return false;
    if (kind == ListKind::Role) {
        std::string key = role_key(trimmed);
        if (key.empty()) return false;
        role_.add_override(key, listed);
        return true;
    }
    // A domain entry must be a host name an address could have; parsing it
    // as one also lower-cases it and turns U-labels into A-labels.
    ParsedAddress parsed = parse_address("postmaster@" + std::string(trimmed), SyntaxOptions{});
    if (!parsed.ok()) return false;
    const std::string& domain = parsed.domain;
    (kind == ListKind::Disposable ? disposable_ : free_).add_override(domain, listed);
    return true;
}

void RiskLists::clear_overrides() {
    disposable_.clear_overrides();
    free_.clear_overrides();
    role_.clear_overrides();
}

bool RiskLists::is_disposable(std::string_view domain) const {
    // Walk from the full domain up to its registrable parents; stop before the TLD.
    std::string_view d = domain;
    while (d.find('.') != std::string_view::npos) {
        int verdict = disposable_.lookup(d);
        if (verdict >= 0) return verdict == 1;
        d.remove_prefix(d.find('.') + 1);
    }
    return false;
}

bool RiskLists::is_user_listed(std::string_view domain) const {
    return free_.user_added(domain) || disposable_.user_added(domain);
}

bool RiskLists::is_free(std::string_view domain) const { return free_.lookup(domain) == 1; }

bool RiskLists::is_role(std::string_view local) const {
    // Looked up for every address: the key is built on the stack.
    if (local.size() > kRoleKeyOnStack) {
        std::string key = role_key(local);
        return !key.empty() && role_.lookup(key) == 1;
    }
    char buffer[kRoleKeyOnStack];
    std::size_t n = write_role_key(local, buffer);
    return n > 0 && role_.lookup(std::string_view(buffer, n)) == 1;
}

}  // namespace ev
