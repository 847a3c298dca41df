#include "pg_prelude.h"  // first: postgres.h precedes every server header

#include "worker.h"

#include <malloc.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "domain_leases.h"
#include "guard.h"
#include "job_claims.h"
#include "job_items.h"
#include "list_cache.h"
#include "prober/verifier.h"
#include "prober_counters.h"
#include "prober_state.h"
#include "provider_cache.h"
#include "queue/domain_tally.h"
#include "queue/item_lifecycle.h"
#include "queue_claim.h"
#include "queue_items.h"
#include "settings.h"
#include "shared_health.h"
#include "verdict_write_back.h"
#include "webhook_sender.h"
#include "worker_shmem.h"
#include "worker_transaction.h"
#include "write_back_watchdog.h"

namespace ev::pg {

namespace {

// How long a claim holds its items: past it, another worker may take them
// (their worker died, or hangs).
constexpr int kLeaseSeconds = 300;

// ---- verdicts for the write-back ----------------------------------------------

// The verdict of a claimed item, as the write-back takes it. The level is
// the one the item was claimed (and probed) at: a watch raised since must
// not take this verdict as its own.
VerdictToWrite verdict_to_write(const ClaimedItem& item, const ev::VerificationResult& r) {
    VerdictToWrite v;
    v.queue_id = item.queue_id;
    v.watch_id = item.watch_id;
    v.row_key = item.row_key;
    v.email = item.email;
    v.status = std::string(ev::to_string(r.status));
    v.reason = std::string(ev::to_string(r.reason));
    v.catch_all = r.is_catch_all;
    constexpr double kPostgresEpochUnix = (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
    v.checked_at = static_cast<TimestampTz>(std::llround((r.checked_at_unix - kPostgresEpochUnix) * USECS_PER_SEC));
    v.level = item.level;
    return v;
}

// ---- the loop -----------------------------------------------------------------

// DROP DATABASE of our database is waiting for us: exit with status 0, which
// the postmaster takes as "do not restart".
void leave_if_asked() {
    if (!workers_asked_to_leave()) return;
    pg_call([] {
        ereport(LOG, (errmsg("email_verify worker: leaving the database, which is being dropped")));
        // The launcher starts the worker again, 5 s later, if the DROP
        // failed (the flag is cleared), and not while the flag stands.
        proc_exit(1);
    });
}

// SIGTERM (die), query cancel and postmaster death end a probe; the claimed
// items come back when this worker slot starts again (or their lease ends).
void worker_poll() {
    check_for_interrupts();
    leave_if_asked();
    if (!PostmasterIsAlive()) pg_call([] { proc_exit(1); });
}

class Worker {
  public:
    explicit Worker(int slot) : slot_(slot), random_(static_cast<unsigned>(MyProcPid)) {}

    void run() {
        WorkerSettings settings = worker_settings();
        for (;;) {
            check_for_interrupts();
            leave_if_asked();
            if (ConfigReloadPending) {
                ConfigReloadPending = false;
                pg_call([] { ProcessConfigFile(PGC_SIGHUP); });
                settings = worker_settings();
            }
            int handled = 0;
            try {
                if (ensure_ready()) handled = run_batch(settings);
            } catch (const PgError& e) {
                // One bad batch must not crash-loop the worker: log, roll
                // back, and carry on after a pause.
                report(e);
                abort_transaction();
                release_own_claims();
                handled = 0;
            }
            suspend_watch_of_expired_write_back(watchdog_take_expired());
            pump_webhooks();
            if (handled > 0) continue;
            if (slot_ == 0) {
                enqueue_stale();
                remove_expired_jobs();
            }
            idle(settings.naptime);
            // Idle: look again at what the database holds (the extension may
            // have been created, updated or dropped meanwhile).
            ready_ = false;
        }
    }

  private:
    // The extension may not be installed (yet) in email_verify.database.
    bool ensure_ready() {
        if (ready_) return true;
        begin_transaction();
        auto rows = query(
            "SELECT to_regproc('email_verify_internal.claim_batch') IS NOT NULL, "
            "to_regclass('email_verify_internal.job_address_chunks') IS NOT NULL");
        bool present = !rows.empty() && rows[0][0] == "t";
        // An installation not yet updated to 0.7.0, where jobs are kept in chunks.
        jobs_present_ = present && rows[0][1] == "t";
        if (present) {
            // Items this slot had claimed before a crash or restart are free again.
            release_claims(slot_);
            if (jobs_present_) release_job_claims(slot_);
        }
        // The first worker delivers the webhooks.
        if (jobs_present_ && slot_ == 0 && !sender_) sender_ = std::make_unique<WebhookSender>();
        commit_transaction();
        ready_ = present;
        if (ready_) {
            // The worker before us in this slot was ended by the watchdog.
            volatile int32* overdue = worker_overdue_watch(slot_);
            if (overdue && *overdue != 0) {
                suspend_watch_of_expired_write_back(*overdue);
                *overdue = 0;
            }
        }
        return ready_;
    }

    // A write-back that outlived email_verify.write_back_timeout (cancelled,
    // or the worker ended when the owner's code swallowed the cancel): its
    // watch is suspended so that it cannot hold the others again.
    void suspend_watch_of_expired_write_back(int32 watch_id) {
        if (watch_id == 0) return;
        std::string reason = "write-back took longer than email_verify.write_back_timeout (" +
                             std::to_string(write_back_timeout().count()) +
                             " ms): a trigger, index or constraint of the table hangs, loops or ignores cancels";
        alone([&] {
            query("SELECT email_verify_internal.suspend_watch($1::int, $2::text)", {std::to_string(watch_id), reason});
        });
    }

    int run_batch(const WorkerSettings& settings) {
        begin_transaction();
        pgstat_report_activity(STATE_RUNNING, "email_verify: claiming a batch");
        std::vector<ClaimedItem> items = claim_batch(slot_, settings.batch_size, kLeaseSeconds);
        // Watched tables first (the signup path), jobs in what is left, but
        // never less than a quarter of a batch: neither starves the other.
        JobClaim jobs;
        if (jobs_present_)
            jobs = claim_job_items(
                slot_, std::max(settings.batch_size - static_cast<int>(items.size()), settings.batch_size / 4),
                kLeaseSeconds);
        const std::vector<JobItem>& job_items = jobs.items;
        // The lists and the provider rules are read in this transaction;
        // examining and probing happen after it (nothing rebuilds them before
        // the next one).
        const ev::RiskLists& lists = current_risk_lists();
        auto providers = current_provider_rules();
        commit_transaction();
        if (jobs.more) wake_all_workers();
        if (items.empty() && job_items.empty()) return 0;

        Batch batch{items, job_items, std::vector<ev::prober::Verdict>(items.size() + job_items.size()), {}, {}, 0, 0};
        probe(settings, lists, std::move(providers), batch);
        // What settled last, and the job claims' end, in one transaction.
        write_back(settings, batch, &jobs.ranges);
        counters_note_batch(batch.written, batch.retried);
        // A batch's probe run (its engine, resolver and sessions) and its
        // transactions free what they allocated, but the C library keeps the
        // freed pages, scattered between live ones, for the process: give
        // them back, so that a worker holds its working set and no more.
        malloc_trim(0);
        return static_cast<int>(items.size() + job_items.size());
    }

    // A claimed batch while it is probed: verdicts are written back as they
    // settle, in small groups, so that a slow or tarpitting domain holds back
    // only its own addresses (see write_back_if_due).
    struct Batch {
        const std::vector<ClaimedItem>& items;
        const std::vector<JobItem>& jobs;  // outcomes[items.size() + k] is jobs[k]'s
        std::vector<ev::prober::Verdict> outcomes;
        std::vector<std::size_t> settled;  // indexes of verdicts not yet written back
        std::chrono::steady_clock::time_point first_settled;
        std::uint64_t written;
        std::uint64_t retried;
        // The domains leased for its SMTP items (domain_leases.h): each is
        // given up at the write-back after its last item was released (no
        // session its probes used is open any more), the rest at the last.
        ev::queue::DomainTally leased{};
        std::vector<std::string> domains_done{};
    };

    // What has settled is written back once its first verdict has waited
    // this long: a batch that ends sooner is written in one transaction, at
    // its end (a size limit would cost a fast batch a second commit), and no
    // verdict of a slow batch waits longer.
    static constexpr std::chrono::milliseconds kWriteBackWait{500};
    static constexpr std::chrono::milliseconds kWorkerPermitWait{5000};

    // Called from the probe loop's poll (no transaction is open there).
    void write_back_if_due(const WorkerSettings& settings, Batch& batch) {
        if (batch.settled.empty() && batch.domains_done.empty()) return;
        if (std::chrono::steady_clock::now() - batch.first_settled < kWriteBackWait) return;
        write_back(settings, batch);
    }

    // No transaction is open here: the core's one verification path, every
    // level's items probed concurrently.
    void probe(const WorkerSettings& worker, const ev::RiskLists& lists,
               std::shared_ptr<const ev::prober::ProviderRules> providers, Batch& batch) {
        ev::prober::VerifierSettings settings;
        settings.syntax = syntax_options();
        settings.probe = probe_settings();
        settings.probe.providers = std::move(providers);
        // A re-check must ask the network: a reused verdict keeps its old
        // checked_at, and a row queued for being stale would stay stale. What
        // the worker finds is kept for every backend all the same.
        settings.result_ttl = result_ttl();
        settings.reuse_cached = false;
        // A site whose politeness budget is spent must not hold the batch:
        // its items go back to the queue (no attempt counted) and others
        // take the worker's time.
        settings.probe.permit_wait = std::min(settings.probe.permit_wait, kWorkerPermitWait);
        std::vector<ev::prober::VerifyRequest> requests;
        std::vector<std::size_t> item_of;  // requests[k] is batch.items[item_of[k]]
        int64 probed = 0;
        // While the prober's own network looks blocked, SMTP items wait (no
        // attempt counted) but for one a period, the test connection.
        const bool blocked = network_state() == ev::prober::NetworkState::Blocked;
        bool test_turn = blocked && take_health_check_turn();
        for (std::size_t i = 0; i < batch.outcomes.size(); ++i) {
            bool job = i >= batch.items.size();
            const std::string& email = job ? batch.jobs[i - batch.items.size()].address_key : batch.items[i].email;
            ev::Level level = job ? batch.jobs[i - batch.items.size()].level : batch.items[i].level;
            if (level == ev::Level::Smtp) batch.leased.add(email);
            if (blocked && level == ev::Level::Smtp && !std::exchange(test_turn, false)) {
                pause(batch, i, email);
                continue;
            }
            requests.push_back({email, level});
            item_of.push_back(i);
            if (level != ev::Level::Syntax) ++probed;
        }
        use_server_state(caches_);
        ev::prober::Verifier verifier(lists, ev::TypoSuggester::builtin(), caches_);
        auto released = [&batch, &requests](std::size_t k) {
            if (requests[k].level != ev::Level::Smtp) return;
            auto done = batch.leased.settle(requests[k].input);
            if (!done) return;
            if (batch.settled.empty() && batch.domains_done.empty())
                batch.first_settled = std::chrono::steady_clock::now();
            batch.domains_done.push_back(std::move(*done));
        };
        auto ready = [&batch, &item_of](std::size_t k, const ev::prober::Verdict& verdict) {
            std::size_t i = item_of[k];
            if (batch.settled.empty()) batch.first_settled = std::chrono::steady_clock::now();
            batch.outcomes[i] = verdict;
            batch.settled.push_back(i);
            counters_note_latency(verdict.result.duration_ms);
        };
        auto poll = [&] {
            worker_poll();
            write_back_if_due(worker, batch);
            pump_webhooks();
        };
        counters_add_in_flight(probed);
        try {
            verifier.verify(requests, settings, poll, ready, released);
        } catch (...) {
            counters_add_in_flight(-probed);
            add_run_to_server(verifier.stats());
            throw;
        }
        counters_add_in_flight(-probed);
        add_run_to_server(verifier.stats());
        warn_if_newly_blocked();
    }

    // An SMTP item held back while the network looks blocked: back to the
    // queue, no attempt counted.
    static void pause(Batch& batch, std::size_t i, const std::string& email) {
        // It touches no host: its domain is left to the other claimers at once.
        if (auto done = batch.leased.settle(email)) batch.domains_done.push_back(std::move(*done));
        if (batch.settled.empty()) batch.first_settled = std::chrono::steady_clock::now();
        ev::prober::Verdict& paused = batch.outcomes[i];
        paused.deferred = true;
        paused.final = false;
        paused.result.smtp_message =
            "paused: the prober's own network looks blocked (email_verify.prober_health); probed once a test "
            "connection gets through";
        batch.settled.push_back(i);
    }

    // Writes back the settled verdicts of the batch not written yet, in one
    // short transaction: final ones through apply_verdicts, the others (not
    // final, attempts left) back to the queue through retry_later.
    // ended_claims: the batch's job claims, ended in the same transaction
    // (its last write-back).
    void write_back(const WorkerSettings& settings, Batch& batch, const std::vector<JobRange>* ended_claims = nullptr) {
        std::vector<std::string> domains_done = std::move(batch.domains_done);
        batch.domains_done.clear();
        if (ended_claims)
            for (std::string& rest : batch.leased.take_all()) domains_done.push_back(std::move(rest));
        if (batch.settled.empty()) {
            if ((ended_claims && !ended_claims->empty()) || !domains_done.empty())
                alone([&] {
                    if (ended_claims) end_job_claims(*ended_claims, slot_);
                    release_domains(slot_, domains_done);
                });
            return;
        }
        const auto& items = batch.items;
        const auto& outcomes = batch.outcomes;
        std::vector<VerdictToWrite> verdicts;
        std::vector<Retry> retries;
        std::vector<PutBack> deferred;
        JobWrites jobs;
        const std::string network = network_explanation();
        for (std::size_t i : batch.settled) {
            const auto& r = outcomes[i].result;
            if (i >= items.size()) {
                add_job_write(settings, batch.jobs[i - items.size()], outcomes[i], network, jobs);
                continue;
            }
            if (outcomes[i].deferred) {
                deferred.push_back({items[i].queue_id, r.smtp_message.value_or("deferred"), true});
                continue;
            }
            // What a failing network gave every address says nothing of this one.
            // (A verdict reached without an SMTP attempt, such as a tarpit
            // provider's, is not the network's.)
            if (!network.empty() && r.level == ev::Level::Smtp && blames_the_network(r.reason)) {
                deferred.push_back({items[i].queue_id, std::string(ev::to_string(r.reason)) + network, true});
                continue;
            }
            // Not final: transient (greylisted, 4xx, timeouts, DNS failures)
            // or reached without any answer from the network.
            if (retry_policy(settings).retries(outcomes[i].final, items[i].attempts)) {
                retries.push_back({items[i].queue_id, std::string(ev::to_string(r.reason)),
                                   static_cast<double>(backoff(settings, items[i].attempts))});
                continue;
            }
            verdicts.push_back(verdict_to_write(items[i], r));
        }
        begin_transaction();
        pgstat_report_activity(STATE_RUNNING, "email_verify: writing verdicts back");
        // What was written (rows gone or changed are skipped).
        std::uint64_t written = write_verdicts(verdicts);
        retry_later(retries);
        put_back(deferred);
        if (!jobs.verdicts.empty()) written += static_cast<std::uint64_t>(settle_job_items(jobs.verdicts));
        retry_job_items(jobs.retries);
        // Domains the batch is done with are free for the other claimers
        // (or for the other workers' batches that hold them too).
        release_domains(slot_, domains_done);
        if (ended_claims) end_job_claims(*ended_claims, slot_);
        commit_transaction();
        // Settled job addresses may have made events (progress, completion).
        if (sender_ && !jobs.verdicts.empty()) sender_->wake();
        batch.settled.clear();
        batch.written += written;
        batch.retried += retries.size() + jobs.retried;
    }

    // What the write-back does with a job address's outcome: the same rules
    // as for a watched row's.
    struct JobWrites {
        std::vector<JobVerdict> verdicts;
        std::vector<JobRetry> retries;
        std::size_t retried = 0;
    };

    void add_job_write(const WorkerSettings& settings, const JobItem& item, const ev::prober::Verdict& outcome,
                       const std::string& network, JobWrites& jobs) {
        const auto& r = outcome.result;
        double retry_delay = static_cast<double>(settings.retry_delay.count());
        if (outcome.deferred || (!network.empty() && r.level == ev::Level::Smtp && blames_the_network(r.reason))) {
            jobs.retries.push_back({&item, retry_delay, false});
        } else if (retry_policy(settings).retries(outcome.final, item.attempts)) {
            jobs.retries.push_back({&item, static_cast<double>(backoff(settings, item.attempts)), true});
            ++jobs.retried;
        } else {
            jobs.verdicts.push_back({&item, &r});
        }
    }

    // The core retry policy (src/core/queue/item_lifecycle.h), with its jitter drawn here.
    long backoff(const WorkerSettings& settings, int attempts) {
        std::uniform_real_distribution<double> jitter(0.5, 1.5);
        return static_cast<long>(retry_policy(settings).backoff(attempts, jitter(random_)).count());
    }

    static ev::queue::RetryPolicy retry_policy(const WorkerSettings& settings) {
        return ev::queue::RetryPolicy{settings.retry_attempts, settings.retry_delay};
    }

    // A batch whose write-back failed as a whole: its items go back to the
    // queue now rather than when their lease runs out, one attempt more each
    // (one past claim_limit() attempts is given up: queue_items.h).
    void release_own_claims() {
        alone([this] {
            release_claims(slot_);
            if (jobs_present_) release_job_claims(slot_);
        });
    }

    void enqueue_stale() {
        alone([] { sweep_into_queue(1000, true); });
    }

    // Work in a transaction of its own; a failure is logged and rolled back,
    // and the loop goes on.
    void alone(const std::function<void()>& work) {
        try {
            if (!ready_) return;
            begin_transaction();
            work();
            commit_transaction();
        } catch (const PgError& e) {
            report(e);
            abort_transaction();
        }
    }

    // Sends what the webhook outbox holds (the first worker only).
    void pump_webhooks() {
        if (!sender_ || !ready_) return;
        try {
            sender_->pump();
        } catch (const PgError& e) {
            report(e);
            abort_transaction();
        }
    }

    void remove_expired_jobs() {
        if (!jobs_present_) return;
        alone([] { query("SELECT email_verify_internal.remove_expired_jobs(1)"); });
    }

    // Waits for a wake-up (the latch: work was queued, a setting changed, a
    // signal) or the naptime; webhook deliveries go on meanwhile, the loop's
    // sockets and timers waking the worker as they need.
    void idle(std::chrono::seconds naptime) {
        // The commits just before came too soon after one another for the
        // statistics to be flushed; autovacuum must see these writes now.
        pg_call([] { pgstat_report_stat(true); });
        auto deadline = std::chrono::steady_clock::now() + naptime;
        for (;;) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return;
            long timeout = left.count();
            int fd = PGINVALID_SOCKET;
            if (sender_ && ready_) {
                timeout = std::min(timeout, static_cast<long>(sender_->due_in().count()));
                fd = sender_->fd();
            }
            int rc = 0;
            pg_call([&] {
                int events = WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH;
                if (fd != PGINVALID_SOCKET) events |= WL_SOCKET_READABLE;
                rc = WaitLatchOrSocket(MyLatch, events, fd, timeout, PG_WAIT_EXTENSION);
                // Reset only what was seen: a wake-up that comes after a
                // socket or timeout wake-up must end the next wait.
                if (rc & WL_LATCH_SET) ResetLatch(MyLatch);
            });
            if (rc & WL_LATCH_SET) {
                if (sender_) sender_->wake();
                return;
            }
            check_for_interrupts();
            pump_webhooks();
        }
    }

    static void report(const PgError& e) {
        ErrorData* data = e.data();
        pg_call([&] {
            ereport(LOG, (errmsg("email_verify worker: batch failed: %s", data && data->message ? data->message : "?"),
                          errdetail("The claimed items are retried when their lease ends.")));
        });
    }

    int slot_;
    bool ready_ = false;
    bool jobs_present_ = false;
    std::mt19937 random_;
    ev::prober::ProberCaches caches_;
    std::unique_ptr<WebhookSender> sender_;
};

}  // namespace

void WorkerInit() {
    if (!process_shared_preload_libraries_in_progress || IsBinaryUpgrade) return;
    WorkerLoginGuardInit();
    if (worker_settings().workers > 0) register_worker_launcher();
}

}  // namespace ev::pg

extern "C" void email_verify_worker_main(Datum arg) {
    int slot = DatumGetInt32(arg);
    // die() only sets flags (acted on at CHECK_FOR_INTERRUPTS); the default
    // bgworker handler would ereport(FATAL) from the signal handler itself.
    pqsignal(SIGTERM, die);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    // Our database is being dropped: the launcher starts us again if the
    // DROP fails.
    if (ev::pg::workers_asked_to_leave()) proc_exit(0);
    // Started by the launcher once the role exists (worker_launcher.cpp).
    std::string database = ev::pg::worker_settings().database;
    BackgroundWorkerInitializeConnection(database.c_str(), ev::pg::kWorkerRole, 0);
    // As a setting, not only a report: it is then restored with every other
    // setting a write-back's user code changes (run_as_table_owner).
    SetConfigOption("application_name", "email_verify worker", PGC_USERSET, PGC_S_SESSION);
    // Every name the worker's own statements use resolves in pg_catalog or is
    // schema-qualified; no schema a user can create in is searched.
    SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION);
    // The worker's statements are short and run over and over; compiling one
    // whose estimate crosses jit_above_cost (the sweep of a large, freshly
    // watched table) costs more than it saves and maps libLLVM, about 60 MB,
    // into the process for good.
    SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
    // A launcher started again may start a worker for a slot whose worker
    // still runs: the newcomer leaves.
    if (!ev::pg::worker_attach(slot)) proc_exit(0);
    ev::pg::watchdog_set_overdue_sink(ev::pg::worker_overdue_watch(slot));
    // However the process ends (proc_exit, FATAL), its slot is freed.
    before_shmem_exit([](int, Datum arg) { ev::pg::worker_detach(DatumGetInt32(arg)); }, Int32GetDatum(slot));
    // The C++ side runs behind one guard; whatever escapes it ends the
    // process as a PostgreSQL error would (the launcher starts it again).
    ErrorData* error = nullptr;
    char message[512] = "";
    try {
        ev::pg::Worker(slot).run();
    } catch (const ev::pg::PgError& e) {
        error = e.data();
    } catch (const std::exception& e) {
        snprintf(message, sizeof message, "%s", e.what());
    }
    ev::pg::worker_detach(slot);
    if (error) ReThrowError(error);
    ereport(ERROR, (errmsg("email_verify worker: %s", message[0] ? message : "stopped")));
}
