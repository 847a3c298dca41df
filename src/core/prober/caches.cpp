#include "prober/caches.h"

namespace ev::prober {

std::optional<bool> CatchAllCache::find(const std::string& domain, SteadyTime now) {
    if (store_) {
        auto bytes = store_->get(prefix_ + "c " + domain, now);
        if (!bytes || bytes->size() != 1) return std::nullopt;
        return (*bytes)[0] == '1';
    }
    auto it = entries_.find(domain);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= now) {
        entries_.erase(it);
        return std::nullopt;
    }
    return it->second.catch_all;
}

void CatchAllCache::store(const std::string& domain, bool catch_all, SteadyTime expires) {
    if (store_) return store_->put(prefix_ + "c " + domain, catch_all ? "1" : "0", expires);
    if (entries_.size() >= 100000) entries_.clear();
    entries_[domain] = Entry{catch_all, expires};
}

std::optional<CachedVerdict> ResultCache::find(const std::string& key, SteadyTime now) {
    if (store_) {
        auto bytes = store_->get(prefix_ + "r " + key, now);
        return bytes ? decode_verdict(*bytes) : std::nullopt;
    }
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    if (it->second->expires <= now) {
        order_.erase(it->second);
        index_.erase(it);
        return std::nullopt;
    }
    order_.splice(order_.begin(), order_, it->second);
    return it->second->verdict;
}

void ResultCache::store(const std::string& key, const CachedVerdict& verdict, SteadyTime expires) {
    if (store_) return store_->put(prefix_ + "r " + key, encode_verdict(verdict), expires);
    if (capacity_ == 0) return;
    auto it = index_.find(key);
    if (it != index_.end()) {
        order_.erase(it->second);
        index_.erase(it);
    }
    order_.push_front(Entry{key, verdict, expires});
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
    // The store is the server's: only a digest of the settings goes into its keys.
    std::string prefix = std::to_string(std::hash<std::string>{}(key)) + ' ';
    routes.share(shared_store, prefix);
    catch_all.share(shared_store, prefix);
    results.share(shared_store, prefix);
    if (key == settings_key_) return;
    clear();
    settings_key_ = std::move(key);
}

}  // namespace ev::prober
