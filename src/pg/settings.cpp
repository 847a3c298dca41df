#include "settings.h"

#include "pg_prelude.h"

namespace ev::pg {

namespace {

int default_level_setting = static_cast<int>(ev::Level::Smtp);
bool allow_quoted_local_setting = false;
bool allow_domain_literal_setting = false;

const struct config_enum_entry level_options[] = {
    {"syntax", static_cast<int>(ev::Level::Syntax), false},
    {"dns", static_cast<int>(ev::Level::Dns), false},
    {"smtp", static_cast<int>(ev::Level::Smtp), false},
    {nullptr, 0, false},
};

}  // namespace

void SettingsInit() {
    DefineCustomEnumVariable("email_verify.default_level",
                             "Verification level used when a call gives none.",
                             "syntax: no network; dns: adds MX/A lookups; smtp: adds the mailbox probe.",
                             &default_level_setting, static_cast<int>(ev::Level::Smtp), level_options,
                             PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("email_verify.allow_quoted_local",
                             "Accept quoted local parts such as \"john doe\"@example.com.", nullptr,
                             &allow_quoted_local_setting, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("email_verify.allow_domain_literal",
                             "Accept domain literals such as user@[192.0.2.1].", nullptr,
                             &allow_domain_literal_setting, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
#if PG_VERSION_NUM >= 150000
    MarkGUCPrefixReserved("email_verify");
#else
    EmitWarningsOnPlaceholders("email_verify");
#endif
}

ev::Level default_level() { return static_cast<ev::Level>(default_level_setting); }

ev::SyntaxOptions syntax_options() {
    ev::SyntaxOptions options;
    options.allow_quoted_local = allow_quoted_local_setting;
    options.allow_domain_literal = allow_domain_literal_setting;
    return options;
}

}  // namespace ev::pg
