#include <gtest/gtest.h>

#include "syntax_verifier.h"

namespace ev {
namespace {

class SyntaxVerifierTest : public ::testing::Test {
  protected:
    RiskLists lists = RiskLists::with_builtin_lists();
    SyntaxVerifier verifier{lists, TypoSuggester::builtin()};
    SyntaxOptions options;
};

TEST_F(SyntaxVerifierTest, WellFormedAddressWithATypoKeepsItsLocalPartInTheSuggestion) {
    VerificationResult r = verifier.verify("  John.Doe@GMIAL.con ", options);
    EXPECT_EQ(r.email, "  John.Doe@GMIAL.con ");
    EXPECT_EQ(r.normalized.value_or(""), "John.Doe@gmial.con");
    EXPECT_EQ(r.status, Status::Valid);
    EXPECT_EQ(r.reason, Reason::SyntaxOk);
    EXPECT_EQ(r.level, Level::Syntax);
    EXPECT_EQ(r.suggestion.value_or(""), "John.Doe@gmail.com");
    EXPECT_EQ(r.is_free, false);
    EXPECT_FALSE(r.mx_found.has_value());
    EXPECT_FALSE(r.smtp_code.has_value());
    EXPECT_FALSE(r.is_catch_all.has_value());
    EXPECT_LT(r.score, delivery_score(Reason::SyntaxOk, false));
}

TEST_F(SyntaxVerifierTest, MalformedAddressIsInvalidWithNoFlags) {
    VerificationResult r = verifier.verify("john..doe@example.com", options);
    EXPECT_EQ(r.status, Status::Invalid);
    EXPECT_EQ(r.reason, Reason::Syntax);
    EXPECT_FALSE(r.normalized.has_value());
    EXPECT_FALSE(r.is_disposable.has_value());
    EXPECT_FALSE(r.is_role.has_value());
    EXPECT_EQ(r.score, 0);
}

TEST_F(SyntaxVerifierTest, RiskFlagsDecideTheStatusInSpecOrder) {
    VerificationResult d = verifier.verify("info@mailinator.com", options);
    EXPECT_EQ(d.status, Status::Risky);
    EXPECT_EQ(d.reason, Reason::Disposable);  // disposable precedes role_account
    EXPECT_EQ(d.is_role, true);
    EXPECT_EQ(d.is_disposable, true);

    VerificationResult r = verifier.verify("Sales+q3@example.com", options);
    EXPECT_EQ(r.reason, Reason::RoleAccount);
    EXPECT_EQ(r.is_disposable, false);

    VerificationResult f = verifier.verify("jane@gmail.com", options);
    EXPECT_EQ(f.status, Status::Valid);
    EXPECT_EQ(f.is_free, true);  // free is a flag, not a risk
    EXPECT_FALSE(f.suggestion.has_value());
}

TEST_F(SyntaxVerifierTest, InternationalisedAddressIsNormalisedToALabels) {
    VerificationResult r = verifier.verify("José@Bücher.example", options);
    EXPECT_EQ(r.status, Status::Valid);
    EXPECT_EQ(r.normalized.value_or(""), "José@xn--bcher-kva.example");
}

TEST_F(SyntaxVerifierTest, OptionsGateQuotedLocalPartsAndDomainLiterals) {
    EXPECT_EQ(verifier.verify("\"john doe\"@example.com", options).reason, Reason::Syntax);
    EXPECT_EQ(verifier.verify("john@[192.0.2.1]", options).reason, Reason::Syntax);
    options.allow_quoted_local = true;
    options.allow_domain_literal = true;
    EXPECT_EQ(verifier.verify("\"john doe\"@example.com", options).reason, Reason::SyntaxOk);
    VerificationResult lit = verifier.verify("john@[192.0.2.1]", options);
    EXPECT_EQ(lit.reason, Reason::SyntaxOk);
    EXPECT_FALSE(lit.suggestion.has_value());
    EXPECT_EQ(verifier.verify("\"info\"@example.com", options).reason, Reason::RoleAccount);
}

TEST_F(SyntaxVerifierTest, NeverSuggestsAnAddressThatIsNotWellFormed) {
    // "o" is no TLD and would become "co": one octet too many for 254.
    std::string local(64, 'a');
    std::string domain = std::string(63, 'b') + '.' + std::string(63, 'c') + '.' + std::string(59, 'd') + ".o";
    std::string address = local + '@' + domain;
    ASSERT_EQ(address.size(), 254u);
    VerificationResult r = verifier.verify(address, options);
    EXPECT_EQ(r.status, Status::Valid);
    EXPECT_FALSE(r.suggestion.has_value()) << *r.suggestion;
}

}  // namespace
}  // namespace ev
