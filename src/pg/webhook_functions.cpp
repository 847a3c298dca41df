// The SQL faces of the webhook core (src/core/webhook/): the URL check that
// submit_job and register_webhook_endpoint make, and new_webhook_secret().
#include "guard.h"  // first: it brings postgres.h

#include <string>

#include "text_io.h"
#include "webhook/signature.h"
#include "webhook/url_policy.h"

EV_SQL_FUNCTION(check_webhook_url) {
    ev::webhook::UrlCheck check = ev::webhook::check_webhook_url(ev::pg::text_view(PG_GETARG_DATUM(0)));
    if (!check.ok)
        throw ev::pg::UserError(ERRCODE_INVALID_PARAMETER_VALUE, check.error,
                                "A webhook URL is http:// or https://, with a host and without credentials.");
    // An address given as such is checked now; a name is checked against the
    // address actually connected to, at every attempt.
    if (check.host_is_ip) {
        auto address_class = ev::webhook::classify_address(check.host);
        bool allow_private = false;
        ev::pg::pg_call([&] {
            const char* value = GetConfigOption("email_verify.webhook_allow_private", true, false);
            allow_private = value != nullptr && strcmp(value, "on") == 0;
        });
        if (address_class && *address_class != ev::webhook::AddressClass::Public && !allow_private)
            throw ev::pg::UserError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                                    "webhook_url points to a " + std::string(ev::webhook::to_string(*address_class)) +
                                        " address (" + check.host + ")",
                                    "Webhooks go to public addresses unless email_verify.webhook_allow_private is on.");
    }
    PG_RETURN_VOID();
}

EV_SQL_FUNCTION(new_webhook_secret) {
    std::string secret = ev::webhook::new_secret();
    Datum result = 0;
    ev::pg::pg_call(
        [&] { result = PointerGetDatum(cstring_to_text_with_len(secret.data(), static_cast<int>(secret.size()))); });
    return result;
}
