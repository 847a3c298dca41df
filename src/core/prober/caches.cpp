#include "prober/caches.h"

namespace ev::prober {

std::optional<bool> CatchAllCache::find(const std::string& domain, SteadyTime now) {
    auto it = entries_.find(domain);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= now) {
        entries_.erase(it);
        return std::nullopt;
    }
    return it->second.catch_all;
}

void CatchAllCache::store(const std::string& domain, bool catch_all, SteadyTime expires) {
    if (entries_.size() >= 100000) entries_.clear();
    entries_[domain] = Entry{catch_all, expires};
}

std::optional<VerificationResult> ResultCache::find(const std::string& key, SteadyTime now) {
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    if (it->second->expires <= now) {
        order_.erase(it->second);
        index_.erase(it);
        return std::nullopt;
    }
    order_.splice(order_.begin(), order_, it->second);
    return it->second->result;
}

void ResultCache::store(const std::string& key, const VerificationResult& result, SteadyTime expires) {
    if (capacity_ == 0) return;
    auto it = index_.find(key);
    if (it != index_.end()) {
        order_.erase(it->second);
        index_.erase(it);
    }
    order_.push_front(Entry{key, result, expires});
    index_[key] = order_.begin();
    while (index_.size() > capacity_) {
        index_.erase(order_.back().key);
        order_.pop_back();
    }
}

void ResultCache::clear() {
    order_.clear();
    index_.clear();
}

void ProberCaches::use_for(const ProbeSettings& s) {
    std::string key = s.dns.servers + '|' + std::to_string(s.smtp_port) + '|' + s.session.helo_name + '|' +
                      s.session.mail_from + '|' + (s.session.starttls ? "tls" : "plain") + '|' +
                      (s.providers ? s.providers->fingerprint() : std::string());
    if (key == settings_key_) return;
    clear();
    settings_key_ = std::move(key);
}

}  // namespace ev::prober
