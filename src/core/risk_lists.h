// Disposable providers, free mailbox providers and role local parts: the
// shipped lists plus the user's own additions and removals.
#pragma once

#include <string>
#include <string_view>

#include "string_set.h"

namespace ev {

enum class ListKind { Disposable, Free, Role };

// Parses "disposable" / "free" / "role"; false when the name is unknown.
bool parse_list_kind(std::string_view name, ListKind* kind);

// One list: shipped entries, overridden by the user's (a removal hides a
// shipped entry, an addition adds one).
class RiskList {
  public:
    void load_builtin(std::string_view lines) { builtin_.add_lines_static(lines); }
    void add_builtin(std::string_view entry) { builtin_.add(entry); }
    void add_override(std::string_view entry, bool listed);
    void clear_overrides();
    // 1 listed, 0 un-listed by the user, -1 nothing is said about the entry.
    // The user's word wins over the shipped lists.
    int lookup(std::string_view entry) const;
    bool user_added(std::string_view entry) const { return added_.contains(entry); }

  private:
    StringSet builtin_;
    StringSet added_;
    StringSet removed_;
};

class RiskLists {
  public:
    // Shipped lists only.
    static RiskLists with_builtin_lists();

    // A user entry (from email_verify.list_entries); normalised the same way
    // lookups are. Returns false if the entry cannot be normalised.
    bool add_override(ListKind kind, std::string_view entry, bool listed);
    void clear_overrides();

    // domain: lower-case A-label. A subdomain of a listed domain counts; the
    // most specific entry decides (removing "x.com" un-lists its subdomains).
    bool is_disposable(std::string_view domain) const;
    bool is_free(std::string_view domain) const;
    // local: as given (unquoted). Case, a "+tag" and the separators . - _ are
    // ignored: "No-Reply+x" is "noreply".
    bool is_role(std::string_view local) const;

    // The user added this exact domain to the free or disposable list.
    bool is_user_listed(std::string_view domain) const;

    // The key a role entry or local part is compared by.
    static std::string role_key(std::string_view local);

  private:
    RiskList disposable_;
    RiskList free_;
    RiskList role_;
};

}  // namespace ev
