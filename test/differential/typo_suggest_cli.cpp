// Reads one domain per line on stdin and prints "domain<TAB>suggestion"
// (empty when none) with the shipped lists: the suggester's side of the
// differential test (test/differential/compare-typos.js).
#include <iostream>
#include <string>

#include "risk_lists.h"
#include "typo_suggester.h"

int main() {
    const ev::RiskLists lists = ev::RiskLists::with_builtin_lists();
    const ev::TypoSuggester& suggester = ev::TypoSuggester::builtin();
    std::ios::sync_with_stdio(false);
    std::string domain;
    while (std::getline(std::cin, domain)) {
        std::cout << domain << '\t' << suggester.suggest(domain, lists).value_or("") << '\n';
    }
    return std::cout.good() ? 0 : 1;
}
