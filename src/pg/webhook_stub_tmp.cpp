#include "guard.h"
EV_SQL_FUNCTION(check_webhook_url) { PG_RETURN_VOID(); }
EV_SQL_FUNCTION(new_webhook_secret) { PG_RETURN_TEXT_P(cstring_to_text("whsec_c2VjcmV0")); }
