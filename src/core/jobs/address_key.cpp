#include "jobs/address_key.h"

namespace ev::jobs {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

}  // namespace

std::string address_key(std::string_view address) {
    while (!address.empty() && is_space(address.front())) address.remove_prefix(1);
    while (!address.empty() && is_space(address.back())) address.remove_suffix(1);
    std::string key(address);
    std::size_t at = key.rfind('@');
    if (at == std::string::npos) return key;
    for (std::size_t i = at + 1; i < key.size(); ++i)
        if (key[i] >= 'A' && key[i] <= 'Z') key[i] = static_cast<char>(key[i] - 'A' + 'a');
    return key;
}

}  // namespace ev::jobs
