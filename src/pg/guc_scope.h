// Settings for the length of a piece of work, the way a function's SET clause
// gives them: a GUC nest level of its own, unwound when the work ends, error
// or not, with every setting changed inside it (even by a plain SET).
#pragma once

#include <functional>
#include <initializer_list>
#include <utility>

#include "pg_prelude.h"

namespace ev::pg {

using Setting = std::pair<const char*, const char*>;

void with_settings(std::initializer_list<Setting> settings, const std::function<void()>& body);

}  // namespace ev::pg
