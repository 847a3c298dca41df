#include "idna.h"

#include <idn2.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "text.h"

namespace ev {

namespace {

using Owned = std::unique_ptr<char, decltype(&std::free)>;

IdnaFailure failure_of(int rc) {
    switch (rc) {
        case IDN2_DISALLOWED:
        case IDN2_UNASSIGNED:
        case IDN2_INVALID_NONTRANSITIONAL:
        case IDN2_INVALID_TRANSITIONAL:
        case IDN2_DOT_IN_LABEL: return IdnaFailure::Disallowed;
        case IDN2_CONTEXTJ:
        case IDN2_CONTEXTJ_NO_RULE:
        case IDN2_CONTEXTO:
        case IDN2_CONTEXTO_NO_RULE: return IdnaFailure::Context;
        case IDN2_BIDI: return IdnaFailure::Bidi;
        case IDN2_2HYPHEN: return IdnaFailure::Hyphens;
        case IDN2_TOO_BIG_LABEL:
        case IDN2_PUNYCODE_BIG_OUTPUT: return IdnaFailure::LabelTooLong;
        case IDN2_TOO_BIG_DOMAIN: return IdnaFailure::DomainTooLong;
        case IDN2_PUNYCODE_BAD_INPUT:
        case IDN2_PUNYCODE_OVERFLOW:
        case IDN2_INVALID_ALABEL:
        case IDN2_UALABEL_MISMATCH:
        case IDN2_ALABEL_ROUNDTRIP_FAILED: return IdnaFailure::InvalidALabel;
        default: return IdnaFailure::Other;
    }
}

bool is_ldh(std::string_view label) {
    for (char c : label) {
        bool ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ldh) return false;
    }
    return true;
}

IdnaResult failed(int rc) {
    IdnaResult r;
    r.failure = failure_of(rc);
    r.error = idn2_strerror(rc);
    return r;
}

// One label of the mapped (lower-case ASCII) form: an A-label must decode to
// a U-label that IDNA2008 lets a registry register (DISALLOWED and
// UNASSIGNED code points, CONTEXTJ and CONTEXTO rules, bidi, hyphens, NFC,
// leading combining mark), and encode back to itself. libidn2's lookup
// checks none of that on A-labels and skips the CONTEXTO rules on U-labels
// (RFC 5891 5.4 leaves them to registries), so "xn--p6j" (U+3000) and
// "a·b" would pass; a name no registry can delegate cannot receive mail.
IdnaResult check_a_label(const std::string& label) {
    char* decoded = nullptr;
    int rc = idn2_to_unicode_8z8z(label.c_str(), &decoded, 0);
    Owned owned_decoded(decoded, &std::free);
    if (rc != IDN2_OK) return failed(rc);
    // Punycode of plain ASCII ("xn--abc-") is no A-label.
    if (text::is_ascii(decoded)) return failed(IDN2_INVALID_ALABEL);
    uint8_t* registered = nullptr;
    rc = idn2_register_u8(reinterpret_cast<const uint8_t*>(decoded), reinterpret_cast<const uint8_t*>(label.c_str()),
                          &registered, 0);
    std::unique_ptr<uint8_t, decltype(&std::free)> owned_registered(registered, &std::free);
    if (rc != IDN2_OK) return failed(rc);
    IdnaResult ok;
    ok.failure = IdnaFailure::None;
    return ok;
}

IdnaResult convert(std::string_view utf8);

// libidn2 takes microseconds per internationalised name (about 2.5 for its
// UTS #46 mapping on Debian 12, as much again for the registration check of
// each label), while a list repeats its domains: each thread keeps the last
// results, direct-mapped by hash. A result depends on its input alone.
struct CacheSlot {
    std::string input;
    IdnaResult result;
    bool used = false;
};
constexpr std::size_t kCacheSlots = 8192;  // a power of two; about 1 MB once filled

}  // namespace

const IdnaResult& domain_to_ascii(std::string_view utf8) {
    thread_local std::vector<CacheSlot> cache(kCacheSlots);
    CacheSlot& slot = cache[std::hash<std::string_view>{}(utf8) & (kCacheSlots - 1)];
    if (slot.used && slot.input == utf8) return slot.result;
    slot.result = convert(utf8);
    slot.input.assign(utf8);
    slot.used = true;
    return slot.result;
}

namespace {

IdnaResult convert(std::string_view utf8) {
    std::string input(utf8);  // libidn2 wants a NUL-terminated string
    char* out = nullptr;
    // Not IDN2_USE_STD3_ASCII_RULES: libidn2 2.3.3 deletes what STD3 forbids
    // instead of refusing it ("a≠b" -> "ab", U+3000 -> nothing). Without it
    // the characters survive the mapping, and the registration check of each
    // label below refuses them, which is what STD3 asks for.
    // No IDN2_NFC_INPUT: the UTS #46 processing normalises to NFC itself
    // (the same results over the differential test's 24,000 domains).
    int rc = idn2_to_ascii_8z(input.c_str(), &out, IDN2_NONTRANSITIONAL);
    Owned owned(out, &std::free);
    if (rc != IDN2_OK) return failed(rc);
    std::string_view ascii(out);
    std::size_t start = 0;
    while (start <= ascii.size()) {
        std::size_t dot = ascii.find('.', start);
        if (dot == std::string_view::npos) dot = ascii.size();
        std::string label(ascii.substr(start, dot - start));
        // An over-long label is the host-name check's to name (LabelTooLong).
        if (label.size() > 63) {
        } else if (label.size() >= 4 && text::iequals_ascii(std::string_view(label).substr(0, 4), "xn--")) {
            IdnaResult checked = check_a_label(text::ascii_lowercase(label));
            if (!checked.ok()) return checked;
        } else if (!is_ldh(label)) {
            // What the mapping turned into non-LDH ASCII (U+3000 into a space,
            // a fullwidth commercial at into '@'): STD3 disallows it.
            return failed(IDN2_DISALLOWED);
        }
        start = dot + 1;
    }
    IdnaResult result;
    result.failure = IdnaFailure::None;
    result.ascii = text::ascii_lowercase(ascii);
    return result;
}

}  // namespace

}  // namespace ev
