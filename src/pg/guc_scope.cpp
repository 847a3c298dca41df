#include "guc_scope.h"

#include "guard.h"

namespace ev::pg {

void with_settings(std::initializer_list<Setting> settings, const std::function<void()>& body) {
    int nest_level = 0;
    pg_call([&] { nest_level = NewGUCNestLevel(); });
    try {
        pg_call([&] {
            for (const Setting& s : settings)
                (void)set_config_option(s.first, s.second, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
        });
        body();
    } catch (...) {
        AtEOXact_GUC(false, nest_level);
        throw;
    }
    AtEOXact_GUC(false, nest_level);
}

}  // namespace ev::pg
