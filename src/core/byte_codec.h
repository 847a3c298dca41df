// A small, versioned binary form for values kept in a CacheStore: fields in
// a fixed order, strings length-prefixed. Reading is bounds-checked: bytes
// that are short or malformed read as a failure, never past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace ev::codec {

class Writer {
  public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(std::uint32_t v) { raw(&v, sizeof v); }
    void i64(std::int64_t v) { raw(&v, sizeof v); }
    void f64(double v) { raw(&v, sizeof v); }
    void str(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        out_.append(s.data(), s.size());
    }
    void opt_str(const std::optional<std::string>& s) {
        u8(s ? 1 : 0);
        if (s) str(*s);
    }
    void opt_bool(const std::optional<bool>& b) { u8(b ? (*b ? 2 : 1) : 0); }
    const std::string& bytes() const { return out_; }

  private:
    void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
    std::string out_;
};

class Reader {
  public:
    explicit Reader(std::string_view in) : in_(in) {}
    bool ok() const { return ok_; }
    bool at_end() const { return in_.empty(); }
    std::uint8_t u8() {
        std::uint8_t v = 0;
        raw(&v, sizeof v);
        return v;
    }
    std::uint32_t u32() {
        std::uint32_t v = 0;
        raw(&v, sizeof v);
        return v;
    }
    std::int64_t i64() {
        std::int64_t v = 0;
        raw(&v, sizeof v);
        return v;
    }
    double f64() {
        double v = 0;
        raw(&v, sizeof v);
        return v;
    }
    std::string str() {
        std::uint32_t n = u32();
        if (!ok_ || n > in_.size()) return fail(), std::string();
        std::string s(in_.substr(0, n));
        in_.remove_prefix(n);
        return s;
    }
    std::optional<std::string> opt_str() {
        std::uint8_t present = u8();
        if (present > 1) fail();
        if (!ok_ || present == 0) return std::nullopt;
        return str();
    }
    std::optional<bool> opt_bool() {
        std::uint8_t v = u8();
        if (v > 2) fail();
        if (!ok_ || v == 0) return std::nullopt;
        return v == 2;
    }
    void fail() { ok_ = false; }

  private:
    void raw(void* p, std::size_t n) {
        if (!ok_ || in_.size() < n) return fail();
        std::memcpy(p, in_.data(), n);
        in_.remove_prefix(n);
    }
    std::string_view in_;
    bool ok_ = true;
};

}  // namespace ev::codec
