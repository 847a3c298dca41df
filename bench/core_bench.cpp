// Benchmarks of the network-free core: what verify_email(e, 'syntax') costs
// per address, on a mixed list (bench/make_address_list.py).
//
//   EV_BENCH_LIST=build/bench/addresses.txt build/bench/core_bench
//
// Without EV_BENCH_LIST a small built-in list is used.
//
//   BM_VerifyMixedList   one address per iteration, cycling through the list:
//                        the time shown is the time per address (target 1 us)
//   BM_VerifyWholeList   the whole list per iteration; items_per_second is
//                        addresses per second (compared with Python's
//                        email_validator); counters valid/invalid/suggested
//                        are shares of the list
//   BM_ParseOnly         parse_address alone (syntax + IDNA + lower-casing)
//   BM_RiskFlagsOnly     the disposable/free/role look-ups of well-formed ones
//   BM_TypoOnly          TypoSuggester::suggest on the well-formed domains
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "address.h"
#include "risk_lists.h"
#include "syntax_verifier.h"
#include "typo_suggester.h"

namespace {

const char* const kBuiltinList[] = {
    "john.smith@gmail.com",
    "mary.jones+news@yahoo.com",
    "info@acme-widgets.com",
    "k.lee@outlook.com",
    "sales@blue-labs.io",
    "jürgen@bücher.example",
    "anna@münchen-bau.de",
    "test123@mailinator.com",
    "peter@hotmail.co.uk",
    "j.doe@river-partners.co.uk",
    "noreply@stone-media.com",
    "olga.ivanov@yandex.ru",
    "bob@gmial.com",
    "alice@hotmial.com",
    "carl@yaho.com",
    "dana@gmail.con",
    "eve@outlook.co",
    "frank@gmai.com",
    "john..doe@gmail.com",
    "johngmail.com",
    "john doe@gmail.com",
    "a@b@gmail.com",
    "john@gmail.com.",
    "x@localhost",
    "david.brown@apex-systems.com",
    "li.wei@qq.com",
    "CHRIS@ICLOUD.COM",
    "support@green-energy.de",
    "maria.garcia@gmx.de",
    "sofia@pacific-travel.fr",
};

struct Corpus {
    std::vector<std::string> addresses;
    std::vector<ev::ParsedAddress> parsed_ok;  // the well-formed ones, parsed
    std::string source;
};

const Corpus& corpus() {
    static const Corpus c = [] {
        Corpus out;
        const char* path = std::getenv("EV_BENCH_LIST");
        if (path && *path) {
            std::ifstream in(path);
            if (!in) {
                std::cerr << "core_bench: cannot read EV_BENCH_LIST=" << path << "\n";
                std::exit(2);
            }
            std::string line;
            while (std::getline(in, line)) out.addresses.push_back(line);
            out.source = path;
        } else {
            for (const char* a : kBuiltinList) out.addresses.emplace_back(a);
            out.source = "built-in list";
        }
        if (out.addresses.empty()) {
            std::cerr << "core_bench: the address list is empty\n";
            std::exit(2);
        }
        for (const std::string& a : out.addresses) {
            ev::ParsedAddress p = ev::parse_address(a, ev::SyntaxOptions{});
            if (p.ok()) out.parsed_ok.push_back(std::move(p));
        }
        return out;
    }();
    return c;
}

// Built once, outside every timing.
const ev::RiskLists& lists() {
    static const ev::RiskLists l = ev::RiskLists::with_builtin_lists();
    return l;
}

void describe_corpus(benchmark::State& state) {
    const Corpus& c = corpus();
    state.SetLabel(c.source);
    state.counters["list_size"] = static_cast<double>(c.addresses.size());
}

void BM_VerifyMixedList(benchmark::State& state) {
    const Corpus& c = corpus();
    const ev::RiskLists& l = lists();
    const ev::TypoSuggester& typos = ev::TypoSuggester::builtin();
    const std::size_t n = c.addresses.size();
    std::size_t i = 0;
    for (auto _ : state) {
        ev::VerificationResult r = ev::SyntaxVerifier(l, typos).verify(c.addresses[i], ev::SyntaxOptions{});
        benchmark::DoNotOptimize(r);
        if (++i == n) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
    describe_corpus(state);
}
BENCHMARK(BM_VerifyMixedList);

void BM_VerifyWholeList(benchmark::State& state) {
    const Corpus& c = corpus();
    const ev::RiskLists& l = lists();
    const ev::TypoSuggester& typos = ev::TypoSuggester::builtin();
    std::size_t valid = 0, invalid = 0, suggested = 0;
    for (auto _ : state) {
        valid = invalid = suggested = 0;
        for (const std::string& a : c.addresses) {
            ev::VerificationResult r = ev::SyntaxVerifier(l, typos).verify(a, ev::SyntaxOptions{});
            valid += r.status == ev::Status::Valid;
            invalid += r.status == ev::Status::Invalid;
            suggested += r.suggestion.has_value();
            benchmark::DoNotOptimize(r);
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(c.addresses.size()));
    // What the list is made of, as the core sees it (the rest is risky).
    const double size = static_cast<double>(c.addresses.size());
    state.counters["valid"] = static_cast<double>(valid) / size;
    state.counters["invalid"] = static_cast<double>(invalid) / size;
    state.counters["suggested"] = static_cast<double>(suggested) / size;
    describe_corpus(state);
}
BENCHMARK(BM_VerifyWholeList)->Unit(benchmark::kMillisecond);

void BM_ParseOnly(benchmark::State& state) {
    const Corpus& c = corpus();
    const std::size_t n = c.addresses.size();
    std::size_t i = 0;
    for (auto _ : state) {
        ev::ParsedAddress p = ev::parse_address(c.addresses[i], ev::SyntaxOptions{});
        benchmark::DoNotOptimize(p);
        if (++i == n) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
    describe_corpus(state);
}
BENCHMARK(BM_ParseOnly);

void BM_RiskFlagsOnly(benchmark::State& state) {
    const Corpus& c = corpus();
    const ev::RiskLists& l = lists();
    const std::size_t n = c.parsed_ok.size();
    if (n == 0) {
        state.SkipWithError("no well-formed address in the list");
        return;
    }
    std::size_t i = 0;
    for (auto _ : state) {
        const ev::ParsedAddress& p = c.parsed_ok[i];
        bool role = l.is_role(p.local);
        bool disposable = l.is_disposable(p.domain);
        bool free_mail = l.is_free(p.domain);
        benchmark::DoNotOptimize(role);
        benchmark::DoNotOptimize(disposable);
        benchmark::DoNotOptimize(free_mail);
        if (++i == n) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
    describe_corpus(state);
}
BENCHMARK(BM_RiskFlagsOnly);

void BM_TypoOnly(benchmark::State& state) {
    const Corpus& c = corpus();
    const ev::RiskLists& l = lists();
    const ev::TypoSuggester& typos = ev::TypoSuggester::builtin();
    const std::size_t n = c.parsed_ok.size();
    if (n == 0) {
        state.SkipWithError("no well-formed address in the list");
        return;
    }
    std::size_t i = 0;
    std::size_t suggested = 0;
    for (auto _ : state) {
        auto s = typos.suggest(c.parsed_ok[i].domain, l);
        suggested += s.has_value();
        benchmark::DoNotOptimize(s);
        if (++i == n) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["suggested_share"] =
        static_cast<double>(suggested) / static_cast<double>(state.iterations() ? state.iterations() : 1);
    describe_corpus(state);
}
BENCHMARK(BM_TypoOnly);

}  // namespace

BENCHMARK_MAIN();
