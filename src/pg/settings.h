// The email_verify.* settings (GUCs) of SPEC.md, defined once per backend.
#pragma once

#include "address.h"
#include "verdict.h"

namespace ev::pg {

void SettingsInit();

ev::Level default_level();
ev::SyntaxOptions syntax_options();

}  // namespace ev::pg
