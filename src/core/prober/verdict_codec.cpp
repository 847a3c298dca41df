#include "prober/verdict_codec.h"

#include "byte_codec.h"

namespace ev::prober {

namespace {

// Bumped whenever the layout changes: a store filled by an older build then
// reads as misses, never as garbage.
constexpr std::uint8_t kVersion = 1;

std::optional<int> opt_int(codec::Reader& in) {
    std::uint8_t present = in.u8();
    if (present > 1) in.fail();
    if (present != 1) return std::nullopt;
    return static_cast<int>(in.u32());
}

}  // namespace

std::string encode_verdict(const CachedVerdict& verdict) {
    const VerificationResult& r = verdict.result;
    codec::Writer out;
    out.u8(kVersion);
    out.u32(verdict.probe_findings);
    out.str(r.email);
    out.opt_str(r.normalized);
    out.u8(static_cast<std::uint8_t>(r.status));
    out.u8(static_cast<std::uint8_t>(r.reason));
    out.u8(static_cast<std::uint8_t>(r.level));
    out.opt_str(r.suggestion);
    out.opt_bool(r.is_disposable);
    out.opt_bool(r.is_role);
    out.opt_bool(r.is_free);
    out.opt_bool(r.is_catch_all);
    out.opt_bool(r.mx_found);
    out.opt_str(r.mx_host);
    out.u8(r.smtp_code ? 1 : 0);
    if (r.smtp_code) out.u32(static_cast<std::uint32_t>(*r.smtp_code));
    out.opt_str(r.smtp_message);
    out.u32(static_cast<std::uint32_t>(r.score));
    out.f64(r.checked_at_unix);
    out.f64(r.duration_ms);
    return out.bytes();
}

std::optional<CachedVerdict> decode_verdict(std::string_view bytes) {
    codec::Reader in(bytes);
    if (in.u8() != kVersion) return std::nullopt;
    CachedVerdict v;
    VerificationResult& r = v.result;
    v.probe_findings = in.u32();
    r.email = in.str();
    r.normalized = in.opt_str();
    std::uint8_t status = in.u8(), reason = in.u8(), level = in.u8();
    if (status > static_cast<std::uint8_t>(Status::Unknown) || reason > static_cast<std::uint8_t>(Reason::DomainOk) ||
        level > static_cast<std::uint8_t>(Level::Smtp))
        return std::nullopt;
    r.status = static_cast<Status>(status);
    r.reason = static_cast<Reason>(reason);
    r.level = static_cast<Level>(level);
    r.suggestion = in.opt_str();
    r.is_disposable = in.opt_bool();
    r.is_role = in.opt_bool();
    r.is_free = in.opt_bool();
    r.is_catch_all = in.opt_bool();
    r.mx_found = in.opt_bool();
    r.mx_host = in.opt_str();
    r.smtp_code = opt_int(in);
    r.smtp_message = in.opt_str();
    r.score = static_cast<int>(in.u32());
    r.checked_at_unix = in.f64();
    r.duration_ms = in.f64();
    if (!in.ok() || !in.at_end() || r.score < 0 || r.score > 100) return std::nullopt;
    return v;
}

}  // namespace ev::prober
