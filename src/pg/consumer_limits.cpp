#include "consumer_limits.h"

#include <chrono>
#include <cmath>
#include <string>

#include "guard.h"
#include "result_tuple.h"
#include "shared_region.h"
#include "signup/consumer_bucket.h"
#include "spi_plans.h"
#include "verifier.h"

namespace ev::pg {

namespace {

using ev::signup::ConsumerBucket;
using ev::signup::ConsumerLimits;

int per_minute_setting = 1000;
int per_day_setting = 100000;

// Roles tracked at once; past this, the role idle longest gives its slot up
// (and its counters with it).
constexpr int kSlots = 256;

struct Slot {
    Oid role;  // InvalidOid: free
    ConsumerBucket bucket;
};

struct SharedBuckets {
    slock_t mutex;
    Slot slots[kSlots];
};

SharedBuckets* shared = nullptr;
SharedBuckets* local = nullptr;  // this backend's, without shared memory

void initialise(void* memory, LWLockPadded*) {
    auto* s = static_cast<SharedBuckets*>(memory);
    SpinLockInit(&s->mutex);
    for (Slot& slot : s->slots) slot = Slot{InvalidOid, ConsumerBucket{}};
}

const SharedRegion region{"email_verify consumer limits", sizeof(SharedBuckets), initialise,
                          reinterpret_cast<void**>(&shared), 0};

SharedBuckets& buckets() {
    if (shared) return *shared;
    if (!local) {
        pg_call([] {
            local = static_cast<SharedBuckets*>(MemoryContextAllocZero(TopMemoryContext, sizeof(SharedBuckets)));
        });
        initialise(local, nullptr);
    }
    return *local;
}

double monotonic_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double unix_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The role's row of email_verify.consumer_limits, or the settings.
ConsumerLimits limits_of(Oid role) {
    static SPIPlanPtr plan = nullptr;
    ConsumerLimits limits;
    std::string name;
    pg_call([&] { name = GetUserNameFromId(role, false); });
    connect_spi();
    try {
        if (!plan) {
            Oid types[1] = {NAMEOID};
            plan = keep_plan("SELECT per_minute, per_day FROM email_verify_internal.consumer_limits_of($1)", 1, types);
        }
        Datum args[1];
        pg_call([&] { args[0] = DirectFunctionCall1(namein, CStringGetDatum(name.c_str())); });
        run_kept_plan(plan, args);
        if (SPI_processed == 1) {
            limits.per_minute = std::stoll(cell_text(SPI_tuptable, 0, 1).value_or("0"));
            limits.per_day = std::stoll(cell_text(SPI_tuptable, 0, 2).value_or("0"));
        }
    } catch (...) {
        finish_spi();
        throw;
    }
    finish_spi();
    return limits;
}

bool exempt(Oid role) {
    bool super = false;
    pg_call([&] { super = superuser_arg(role); });
    return super;
}

ev::signup::TakeResult take(Oid role, std::int64_t count) {
    ConsumerLimits limits = limits_of(role);
    SharedBuckets& b = buckets();
    double now = monotonic_seconds(), now_unix = unix_seconds();
    SpinLockAcquire(&b.mutex);
    Slot* found = nullptr;
    Slot* idlest = &b.slots[0];
    for (Slot& slot : b.slots) {
        if (slot.role == role) {
            found = &slot;
            break;
        }
        if (slot.role == InvalidOid) {
            if (idlest->role != InvalidOid) idlest = &slot;
        } else if (idlest->role != InvalidOid && slot.bucket.updated_at < idlest->bucket.updated_at) {
            idlest = &slot;
        }
    }
    if (!found) {
        found = idlest;
        *found = Slot{role, ConsumerBucket{}};
        found->bucket.updated_at = now;
    }
    ev::signup::TakeResult result = ev::signup::take(found->bucket, limits, count, now, now_unix);
    SpinLockRelease(&b.mutex);
    return result;
}

}  // namespace

void ConsumerLimitsInit() {
    DefineCustomIntVariable("email_verify.consumer_checks_per_minute",
                            "Network-level checks a role's own calls may make per minute.",
                            "For roles without a row in email_verify.consumer_limits; 0: no limit. Superusers are "
                            "not limited.",
                            &per_minute_setting, 1000, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.consumer_checks_per_day",
                            "Network-level checks a role's own calls may make per day.",
                            "For roles without a row in email_verify.consumer_limits; 0: no limit. Superusers are "
                            "not limited.",
                            &per_day_setting, 100000, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    if (process_shared_preload_libraries_in_progress) add_shared_region(&region);
}

void require_consumer_checks(std::int64_t count) {
    Oid role = GetUserId();
    if (count <= 0 || exempt(role)) return;
    auto result = take(role, count);
    if (result.granted) return;
    std::string name;
    pg_call([&] { name = GetUserNameFromId(role, false); });
    ConsumerLimits limits = limits_of(role);
    bool per_day = result.spent == ev::signup::Window::Day;
    std::int64_t limit = per_day ? limits.per_day : limits.per_minute;
    std::string message = "role \"" + name + "\" is over its email_verify limit of " + std::to_string(limit) +
                          " network-level checks per " + (per_day ? "day" : "minute");
    if (count > 1) message += " (this call asks for " + std::to_string(count) + ")";
    std::string hint =
        count > limit
            ? std::string("A call may not check more addresses than the limit: submit a bulk job instead.")
            : "Try again in " + std::to_string(static_cast<long long>(std::ceil(result.retry_after_seconds))) +
                  " s, or raise the role's limit in email_verify.consumer_limits.";
    throw UserError(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, message, hint);
}

bool take_consumer_checks(Oid role, std::int64_t count) { return exempt(role) || take(role, count).granted; }

}  // namespace ev::pg

// consumer_counters() -> SETOF (role_oid, checks, refusals, last_refusal_at):
// the caller's own row; every row for superusers and email_verify_admin.
EV_SQL_FUNCTION(consumer_counters) {
    TupleDesc desc = nullptr;
    Tuplestorestate* store = nullptr;
    bool see_all = false;
    Oid me = GetUserId();
    ev::pg::pg_call([&] {
        ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        InitMaterializedSRF(fcinfo, 0);
        desc = rsinfo->setDesc;
        store = rsinfo->setResult;
        Oid admin = get_role_oid("email_verify_admin", true);
        see_all = superuser() || (OidIsValid(admin) && has_privs_of_role(me, admin));
    });
    auto& b = ev::pg::buckets();
    ev::pg::Slot copy[ev::pg::kSlots];
    SpinLockAcquire(&b.mutex);
    for (int i = 0; i < ev::pg::kSlots; ++i) copy[i] = b.slots[i];
    SpinLockRelease(&b.mutex);
    for (const auto& slot : copy) {
        if (slot.role == InvalidOid || (!see_all && slot.role != me)) continue;
        Datum values[4];
        bool nulls[4] = {false, false, false, slot.bucket.last_refusal_unix == 0};
        values[0] = ObjectIdGetDatum(slot.role);
        values[1] = Int64GetDatum(slot.bucket.checks);
        values[2] = Int64GetDatum(slot.bucket.refusals);
        values[3] = TimestampTzGetDatum(ev::pg::timestamptz_from_unix(slot.bucket.last_refusal_unix));
        ev::pg::pg_call([&] { tuplestore_putvalues(store, desc, values, nulls); });
    }
    return static_cast<Datum>(0);
}

// take_consumer_check(role oid) -> boolean, for a sync watch's inline check.
EV_SQL_FUNCTION(take_consumer_check) { PG_RETURN_BOOL(ev::pg::take_consumer_checks(PG_GETARG_OID(0), 1)); }
