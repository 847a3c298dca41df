// email-verify-prober: probes for a database that runs the email_verify
// extension, from any machine. It claims work from the database's queue
// (watched rows and bulk jobs, beside the in-server workers), probes with no
// transaction open, with the same engine as the extension, and reports the
// verdicts back; see the README, "Probers on other machines".
//
//   email-verify-prober [--config FILE] [--name NAME] [--once] [CONNINFO]
//
// SIGTERM / SIGINT: stop within a second (what was reached is reported, the
// rest given back); SIGHUP: read the configuration file again.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "prober/stream_verifier.h"
#include "remote/claim_window.h"
#include "remote/config_file.h"
#include "remote/prober_settings.h"
#include "remote/report.h"
#include "remote_db.h"
#include "risk_lists.h"
#include "typo_suggester.h"

#ifndef EV_VERSION
#define EV_VERSION unknown
#endif
#define EV_STRINGIFY(x) #x
#define EV_TEXT(x) EV_STRINGIFY(x)

namespace {

using ev::remote::ClaimedItem;
using ev::remote::DbError;
using ev::remote::RemoteDb;

volatile std::sig_atomic_t stop_requested = 0;
volatile std::sig_atomic_t reload_requested = 0;

extern "C" void on_stop(int) { stop_requested = 1; }
extern "C" void on_reload(int) { reload_requested = 1; }

const char* const kVersion = EV_TEXT(EV_VERSION);
// After SIGTERM, how long what is in flight may still run.
constexpr std::chrono::milliseconds kStopGrace{800};
constexpr std::chrono::seconds kHeartbeatEvery{30};
// How long the engine runs between two looks at the window, and how long a
// settled verdict may wait for its report.
constexpr std::chrono::milliseconds kTurn{100};
constexpr std::chrono::milliseconds kReportEvery{1000};
// The verdicts a prober keeps for reuse: the server keeps every verdict
// anyway (and jobs send each distinct address once), so the prober's own
// cache only spares a probe for an address met again soon; a small one
// keeps its memory within bounds.
constexpr std::size_t kResultCacheEntries = 10000;

std::string name_of_prober;

void log(const std::string& message) {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC", &tm);
    std::cerr << stamp << " email-verify-prober[" << name_of_prober << "]: " << message << std::endl;
}

struct Options {
    std::string config_path;
    std::string conninfo;
    std::string name;
    bool once = false;  // stop when a claim finds nothing
};

int usage() {
    std::cerr << "usage: email-verify-prober [--config FILE] [--name NAME] [--once] [CONNINFO]\n"
                 "  CONNINFO: a libpq connection string or URI (else the PG* environment, a service file...)\n";
    return 2;
}

std::string host_name() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
    return buf;
}

// The configuration file's settings; nullopt (logged) when it cannot be read.
std::optional<std::map<std::string, std::string>> read_config(const std::string& path) {
    if (path.empty()) return std::map<std::string, std::string>{};
    std::ifstream in(path);
    if (!in) {
        log("cannot read the configuration file " + path + ": " + std::strerror(errno));
        return std::nullopt;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto config = ev::remote::parse_config(text.str());
    if (!config.error.empty()) {
        log("configuration file " + path + ", " + config.error);
        return std::nullopt;
    }
    return config.values;
}

// Sleeps up to ms, waking early when asked to stop.
void nap(int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!stop_requested && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

struct Stopping {};

class Prober {
  public:
    Prober(Options options, std::map<std::string, std::string> own)
        : options_(std::move(options)), own_(std::move(own)), db_(conninfo()) {
        caches_.results = ev::prober::ResultCache(kResultCacheEntries);
        caches_.local_permits.without_bursts();
    }

    int run() {
        if (!connect_and_hello()) return stop_requested ? 0 : 3;
        last_contact_ = std::chrono::steady_clock::now();
        while (true) {
            if (reload_requested) reload();
            try {
                if (!turn()) break;
            } catch (const Stopping&) {
                log("stopping: what was reached is reported; the rest is given back");
                try {
                    if (unsent_) report_settled();
                    if (window_.has_news()) report_settled();
                } catch (const DbError& e) {
                    log(std::string("database: ") + e.what() + " (the claims run out by themselves)");
                }
                break;
            } catch (const DbError& e) {
                log(std::string("database: ") + e.what());
                if (!e.connection_lost()) {
                    nap(1000);
                    continue;
                }
                // A new connection is a new prober: what the old one held
                // runs out by lease and is taken again; a report made for it
                // now would be refused (fenced), never written over.
                forget_window();
                if (!connect_and_hello()) return stop_requested ? 0 : 3;
            }
        }
        goodbye();
        return 0;
    }

  private:
    // One turn of the rolling window: claim while it has room (and the last
    // claim found something, or a pause has passed), probe for a moment,
    // report what settled. False when the prober is done.
    bool turn() {
        auto now = std::chrono::steady_clock::now();
        if (stop_requested) {
            if (!stop_at_) stop_at_ = now + kStopGrace;
            if (window_.in_flight() == 0 || now >= *stop_at_) throw Stopping{};
        } else if (window_.in_flight() < static_cast<std::size_t>(settings_.batch_size) && now >= next_claim_ &&
                   !unsent_) {
            // (Not before a refused report went through: its domains_done
            // must not end a lease a newer claim relies on.)
            // Settings or lists may have changed since the engine was made.
            if (window_.in_flight() == 0 && stream_ && !stream_->busy()) stream_ = nullptr;
            claim();
            if (options_.once && window_.in_flight() == 0 && window_.settled() == 0) return false;
        }
        if (stream_ && stream_->busy()) {
            try {
                stream_->run_for(kTurn, [this] {
                    if (stop_requested && stop_at_ && std::chrono::steady_clock::now() >= *stop_at_) throw Stopping{};
                });
            } catch (const Stopping&) {
                throw;
            } catch (const std::exception& e) {
                give_back_in_flight(std::string("probe: ") + e.what());
            }
        } else if (!window_.has_news()) {
            nap(std::min(settings_.idle_ms, 100));
        }
        now = std::chrono::steady_clock::now();
        bool due = now - last_report_ >= kReportEvery ||
                   window_.settled() >= static_cast<std::size_t>(settings_.batch_size) / 2 || window_.in_flight() == 0;
        if ((window_.has_news() || unsent_) && due) report_settled();
        if (now - last_contact_ > kHeartbeatEvery) {
            db_.heartbeat(hello_.prober_id, static_cast<int>(window_.in_flight()), std::nullopt);
            last_contact_ = now;
        }
        return true;
    }

    void claim() {
        std::vector<ClaimedItem> items = db_.claim(hello_.prober_id, settings_.batch_size, settings_.lease_seconds);
        last_contact_ = std::chrono::steady_clock::now();
        if (items.empty()) {
            next_claim_ = last_contact_ + std::chrono::milliseconds(settings_.idle_ms);
            return;
        }
        if (!stream_) {
            stream_ = std::make_unique<ev::prober::StreamVerifier>(
                lists_, ev::TypoSuggester::builtin(), caches_, settings_.verifier,
                [this](std::uint64_t ticket, const ev::prober::Verdict& v) { window_.settle(ticket, v); },
                [this](std::uint64_t ticket) { window_.release(ticket); });
        }
        std::vector<std::uint64_t> tickets = window_.add(std::move(items));
        try {
            for (std::uint64_t ticket : tickets) {
                const ClaimedItem* item = window_.find(ticket);
                if (item) stream_->submit(ticket, item->email, item->level);
            }
        } catch (const std::exception& e) {
            give_back_in_flight(std::string("probe: ") + e.what());
        }
    }

    // The engine failed (a DNS server list c-ares refuses, ...): what it held
    // goes back at once, no attempt counted, and the next claim starts anew.
    void give_back_in_flight(const std::string& error) {
        log(error);
        last_error_ = error;
        for (std::uint64_t ticket : window_.open_tickets()) {
            ev::prober::Verdict back;
            back.final = false;
            back.deferred = true;
            back.result.reason = ev::Reason::TemporaryFailure;
            back.result.smtp_message = error;
            window_.settle(ticket, back);
        }
        stream_ = nullptr;  // its sockets are closed
        window_.release_all();
        next_claim_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }

    // A report the server refused without losing the connection (a
    // deadlock, a statement timeout) was rolled back whole: it is sent
    // again, as it was, before anything newer; nothing of it is lost.
    void report_settled() {
        if (!unsent_) {
            std::size_t settled = window_.settled();
            unsent_ = Unsent{window_.take_report(settings_.retry, random_, last_error_), settled};
            last_error_.reset();
        }
        std::string answer = db_.report(hello_.prober_id, unsent_->report.json);
        last_report_ = last_contact_ = std::chrono::steady_clock::now();
        log(std::to_string(unsent_->settled) + " settled: " + std::to_string(unsent_->report.verdicts) + " verdicts, " +
            std::to_string(unsent_->report.retries) + " put back, " + std::to_string(window_.in_flight()) +
            " in flight; server: " + answer);
        unsent_.reset();
    }

    void forget_window() {
        unsent_.reset();
        window_ = ev::remote::ClaimWindow{};
        stream_ = nullptr;
        next_claim_ = {};
    }

    std::string conninfo() const {
        if (!options_.conninfo.empty()) return options_.conninfo;
        auto it = own_.find("conninfo");
        return it == own_.end() ? "" : it->second;
    }

    // Connects (again), with a growing pause, until it works or a stop is
    // asked; then the handshake. False: stopped, or refused for good.
    bool connect_and_hello() {
        int pause_ms = 500;
        while (!stop_requested) {
            try {
                db_.connect();
                hello_ = db_.hello(name_of_prober, host_name(), kVersion);
                log("connected to " + db_.where() + " as prober " + std::to_string(hello_.prober_id) +
                    " (email_verify " + hello_.extension_version + ", protocol " +
                    std::to_string(ev::remote::kProtocol) + ")");
                return apply_settings() && load_lists();
            } catch (const DbError& e) {
                log(e.what());
                // A refusal by protocol is for good: another connection would get it too.
                if (!e.connection_lost() && std::string(e.what()).find("protocol") != std::string::npos) return false;
            }
            nap(pause_ms);
            pause_ms = std::min(pause_ms * 2, 30000);
        }
        return false;
    }

    bool apply_settings() {
        auto result = ev::remote::remote_settings(hello_.settings, own_, host_name());
        if (!result.error.empty()) {
            log("settings: " + result.error);
            return false;
        }
        settings_ = result.settings;
        return true;
    }

    bool load_lists() {
        lists_ = ev::RiskLists::with_builtin_lists();
        for (const auto& e : db_.list_entries()) {
            ev::ListKind kind;
            if (ev::parse_list_kind(e.list, &kind)) lists_.add_override(kind, e.entry, e.listed);
        }
        return true;
    }

    void reload() {
        reload_requested = 0;
        auto own = read_config(options_.config_path);
        if (!own) return;  // logged; the settings in force stay
        std::map<std::string, std::string> previous = own_;
        own_ = *own;
        if (!apply_settings()) {
            own_ = previous;
            apply_settings();
            return;
        }
        log("configuration read again");
    }

    void goodbye() {
        try {
            if (db_.connected()) db_.goodbye(hello_.prober_id);
            log("stopped");
        } catch (const DbError& e) {
            log(std::string("goodbye: ") + e.what() + " (the claims run out by themselves)");
        }
    }

    Options options_;
    std::map<std::string, std::string> own_;
    RemoteDb db_;
    ev::remote::Hello hello_;
    ev::remote::RemoteSettings settings_;
    ev::RiskLists lists_ = ev::RiskLists::with_builtin_lists();
    ev::prober::ProberCaches caches_;
    std::mt19937 random_{std::random_device{}()};
    ev::remote::ClaimWindow window_;
    std::unique_ptr<ev::prober::StreamVerifier> stream_;  // made by the first claim of a window
    std::chrono::steady_clock::time_point next_claim_{};
    std::chrono::steady_clock::time_point last_report_{};
    std::chrono::steady_clock::time_point last_contact_{};  // the last statement the server saw
    std::optional<std::chrono::steady_clock::time_point> stop_at_;
    std::optional<std::string> last_error_;
    struct Unsent {
        ev::remote::BatchReport report;
        std::size_t settled;
    };
    std::optional<Unsent> unsent_;
};

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if ((arg == "--config" || arg == "--name") && i + 1 < argc) {
            (arg == "--config" ? options.config_path : options.name) = argv[++i];
        } else if (arg == "--once") {
            options.once = true;
        } else if (arg == "--version") {
            std::cout << "email-verify-prober " << kVersion << " (protocol " << ev::remote::kProtocol << ")\n";
            return 0;
        } else if (arg == "--help" || arg == "-h") {
            return usage(), 0;
        } else if (!arg.empty() && arg[0] == '-') {
            return usage();
        } else {
            options.conninfo = arg;
        }
    }
    auto own = read_config(options.config_path);
    if (!own) return 2;
    if (options.name.empty()) {
        auto it = own->find("name");
        options.name = it != own->end() ? it->second : host_name() + ":" + std::to_string(getpid());
    }
    name_of_prober = options.name;
    struct sigaction stop {};
    stop.sa_handler = on_stop;
    sigaction(SIGTERM, &stop, nullptr);
    sigaction(SIGINT, &stop, nullptr);
    struct sigaction reload {};
    reload.sa_handler = on_reload;
    sigaction(SIGHUP, &reload, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    try {
        Prober prober(options, std::move(*own));
        return prober.run();
    } catch (const std::exception& e) {
        log(std::string("fatal: ") + e.what());
        return 1;
    }
}
