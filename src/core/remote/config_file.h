// The configuration file of email-verify-prober: lines of `name = value`,
// as postgresql.conf writes them (a value may be single-quoted, '' inside
// quotes is a quote; `#` starts a comment outside quotes; blank lines are
// ignored). Names are those of the extension's settings (email_verify.*) or
// the prober's own (conninfo, name, batch_size, lease_seconds, ...).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace ev::remote {

struct ConfigFile {
    std::map<std::string, std::string> values;  // the last line of a name wins
    std::string error;                          // "line N: what"; empty when read
};

ConfigFile parse_config(std::string_view text);

}  // namespace ev::remote
