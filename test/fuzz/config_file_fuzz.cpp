// libFuzzer target: any bytes as email-verify-prober's configuration file
// parse to settings or to an error naming a line; never a crash, and a
// value read back is what a line said (no byte of it past the input).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "remote/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto config = ev::remote::parse_config(text);
    if (!config.error.empty() && !config.values.empty()) std::abort();
    for (const auto& [name, value] : config.values)
        if (name.empty() || name.size() > size || value.size() > size) std::abort();
    return 0;
}
