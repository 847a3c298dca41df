// Reply texts below are the reply lines as published by the providers
// (Gmail / Google Workspace SMTP error reference, Microsoft NDR references,
// Yahoo postmaster pages) or as logged by the named MTAs; addresses and IPs
// are replaced by documentation values.
#include <gtest/gtest.h>

#include <string>

#include "smtp/reply.h"
#include "smtp/reply_classifier.h"

namespace ev::smtp {
namespace {

using M = Meaning;
using S = Stage;

Reply parse(const std::string& raw) {
    ReplyReader reader;
    reader.feed(raw);
    EXPECT_TRUE(reader.has_reply()) << raw << " / " << reader.error();
    EXPECT_FALSE(reader.failed()) << raw << " / " << reader.error();
    Reply r = reader.take();
    EXPECT_FALSE(reader.has_reply()) << raw;
    return r;
}

// Single-line shorthand: "550 5.1.1 text" becomes "550 5.1.1 text\r\n".
std::string line(const char* s) { return std::string(s) + "\r\n"; }

const char* stage_name(Stage s) {
    switch (s) {
        case S::Banner: return "Banner";
        case S::Ehlo: return "Ehlo";
        case S::Helo: return "Helo";
        case S::StartTls: return "StartTls";
        case S::MailFrom: return "MailFrom";
        case S::RcptTo: return "RcptTo";
        case S::Rset: return "Rset";
    }
    return "?";
}

struct Case {
    const char* who;  // where the text comes from
    std::string raw;
    Stage stage;
    Meaning meaning;
};

void run(const Case* cases, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const Case& c = cases[i];
        Reply r = parse(c.raw);
        EXPECT_EQ(classify(r, c.stage), c.meaning) << c.who << " at " << stage_name(c.stage) << ": " << r.summary();
    }
}

// ---------------------------------------------------------------------------
// RCPT TO: where mailbox verdicts come from.

TEST(ReplyClassifier, RcptGmail) {
    const Case cases[] = {
        {"gmail ok", line("250 2.1.5 OK d72si22370812qhc.8 - gsmtp"), S::RcptTo, M::Accepted},
        {"gmail unknown user",
         "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
         "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
         "550-5.1.1 unnecessary spaces. Learn more at\r\n"
         "550 5.1.1 https://support.google.com/mail/answer/6596 d72si22370812qhc.8 - gsmtp\r\n",
         S::RcptTo, M::MailboxNotFound},
        {"gmail disabled",
         "550-5.2.1 The email account that you tried to reach is disabled. Learn more at\r\n"
         "550 5.2.1 https://support.google.com/mail/?p=DisabledUser x - gsmtp\r\n",
         S::RcptTo, M::MailboxDisabled},
        {"gmail inactive",
         "550-5.2.1 The email account that you tried to reach is inactive. For more\r\n"
         "550-5.2.1 information, go to\r\n"
         "550 5.2.1 https://support.google.com/mail/?p=DisabledUser k16 - gsmtp\r\n",
         S::RcptTo, M::MailboxDisabled},
        {"gmail over quota (temp)",
         "452-4.2.2 The email account that you tried to reach is over quota. Please direct\r\n"
         "452-4.2.2 the recipient to\r\n"
         "452 4.2.2 https://support.google.com/mail/?p=OverQuotaTemp d34si16258651pld.82 - gsmtp\r\n",
         S::RcptTo, M::MailboxFull},
        {"gmail out of storage",
         line("452 4.2.2 The recipient's inbox is out of storage space. Please direct the recipient to "
              "https://support.google.com/mail/?p=OverQuotaTemp - gsmtp"),
         S::RcptTo, M::MailboxFull},
        {"gmail over quota (perm)", line("552 5.2.2 The email account that you tried to reach is over quota. - gsmtp"),
         S::RcptTo, M::MailboxFull},
        {"gmail receiving at a rate (busy, exists)",
         line("450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional "
              "messages from being delivered. Please resend your message at a later time. If the user is able to "
              "receive mail at that time, your message will be delivered. - gsmtp"),
         S::RcptTo, M::TemporaryFailure},
        {"gmail receiving too quickly",
         line("450 4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your "
              "message at a later time. - gsmtp"),
         S::RcptTo, M::TemporaryFailure},
        {"gmail ReceivingRatePerm is not a disabled mailbox",
         "550-5.2.1 The user you are trying to contact is receiving mail at a rate that\r\n"
         "550-5.2.1 prevents additional messages from being delivered. For more\r\n"
         "550-5.2.1 information, please visit\r\n"
         "550 5.2.1 https://support.google.com/mail/?p=ReceivingRatePerm p41si4843565qte.548 - gsmtp\r\n",
         S::RcptTo, M::TemporaryFailure},
        {"gmail relay peak", line("450 4.2.1 Peak SMTP relay limit exceeded for customer. - gsmtp"), S::RcptTo,
         M::TemporaryFailure},
        {"gmail temporary system problem", line("451 4.3.0 Mail server temporarily rejected message. - gsmtp"),
         S::RcptTo, M::TemporaryFailure},
        {"gmail multiple domains", line("451 4.3.0 Multiple destination domains per transaction is unsupported."),
         S::RcptTo, M::TemporaryFailure},
        {"gmail 421 whitelist", line("421 4.7.0 IP not in whitelist for RCPT domain, closing connection. - gsmtp"),
         S::RcptTo, M::ServiceClosing},
        {"gmail 421 unsolicited rate",
         line("421 4.7.28 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating "
              "from your IP address. To protect our users from spam, mail sent from your IP address has been "
              "temporarily rate limited. - gsmtp"),
         S::RcptTo, M::ServiceClosing},
        {"gmail bad address syntax",
         line("553 5.1.3 The recipient address <a@@example.com> is not a valid RFC-5321 address. - gsmtp"), S::RcptTo,
         M::MailboxNotFound},
        {"gmail admin policy", line("550 5.7.1 This message violates example.com email policy. - gcdp x - gsmtp"),
         S::RcptTo, M::Blocked},
        {"gmail low reputation",
         line("550 5.7.1 [192.0.2.1] Our system has detected that this message is likely suspicious due to the "
              "very low reputation of the sending IP address. - gsmtp"),
         S::RcptTo, M::Blocked},
        {"gmail unauthenticated",
         line("550 5.7.26 This mail has been blocked because the sender is unauthenticated. - gsmtp"), S::RcptTo,
         M::Blocked},
    };
    run(cases, std::size(cases));
}

TEST(ReplyClassifier, RcptMicrosoft) {
    const Case cases[] = {
        {"m365 accepts unknown users too", line("250 2.1.5 Recipient OK"), S::RcptTo, M::Accepted},
        {"m365 recipient not found",
         line("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"), S::RcptTo,
         M::MailboxNotFound},
        {"exchange recip not found", line("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"), S::RcptTo,
         M::MailboxNotFound},
        {"exchange on-prem ex recip", line("550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found"), S::RcptTo,
         M::MailboxNotFound},
        {"m365 directory edge blocking = unknown user",
         line("550 5.4.1 Recipient address rejected: Access denied. AS(201806281) "
              "[CY4PEPF0000EE3C.namprd03.prod.outlook.com 2023-09-18T12:48:32.808Z 08DBB45899852BA7]"),
         S::RcptTo, M::MailboxNotFound},
        {"m365 directory edge blocking, address echoed",
         line("550 5.4.1 [user@example.gov]: Recipient address rejected: Access denied "
              "[CY1GCC01FT007.eop-gcc01.prod.protection.outlook.com]"),
         S::RcptTo, M::MailboxNotFound},
        {"outlook.com consumer unknown user",
         line("550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
              "[HE1EUR01FT020.eop-EUR01.prod.protection.outlook.com]"),
         S::RcptTo, M::MailboxNotFound},
        {"outlook.com second RCPT", line("452 4.5.3 Too many recipients"), S::RcptTo, M::TooManyRecipients},
        {"exchange too many recipients, permanent", line("550 5.5.3 Too many recipients"), S::RcptTo,
         M::TooManyRecipients},
        {"outlook.com block list (S3150)",
         line("550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet "
              "service provider since part of their network is on our block list (S3150)."),
         S::RcptTo, M::Blocked},
        {"m365 banned sending IP",
         line("550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please "
              "visit https://sender.office.com/ and follow the directions. AS(1430)"),
         S::RcptTo, M::Blocked},
        {"outlook.com server busy", line("451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714)"),
         S::RcptTo, M::TemporaryFailure},
        {"outlook.com rate limited by reputation",
         line("451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation."),
         S::RcptTo, M::TemporaryFailure},
        {"exchange 2003 hash code",
         line("550 #5.7.1 Your access to submit messages to this e-mail system has been rejected."), S::RcptTo,
         M::Blocked},
    };
    run(cases, std::size(cases));
}

TEST(ReplyClassifier, RcptYahooAol) {
    const Case cases[] = {
        {"yahoo unknown user (554, no enhanced code)",
         line("554 delivery error: dd This user doesn't have a yahoo.com account (nobody@yahoo.com) [0] - "
              "mta1000.mail.bf1.yahoo.com"),
         S::RcptTo, M::MailboxNotFound},
        {"yahoo over quota (554!)",
         line("554 delivery error: dd Sorry, your message to someone@yahoo.com cannot be delivered. This account "
              "is over quota. [-5] - mta1000.mail.bf1.yahoo.com"),
         S::RcptTo, M::MailboxFull},
        {"yahoo disabled mailbox",
         line("554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This mailbox "
              "is disabled (554.30). - mta1000.mail.bf1.yahoo.com"),
         S::RcptTo, M::MailboxDisabled},
        {"yahoo BL21",
         line("553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's "
              "list; see https://postmaster.yahooinc.com/error-codes"),
         S::RcptTo, M::Blocked},
        {"yahoo TSS04",
         line("421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user "
              "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"),
         S::RcptTo, M::ServiceClosing},
        {"yahoo excessive unknown recipients",
         line("451 VS1-IP Excessive unknown recipients - possible Open Relay (#4.1.8)"), S::RcptTo,
         M::TemporaryFailure},
        {"yahoo resources", line("451 Resources temporarily not available - Please try again later [#4.16.1]."),
         S::RcptTo, M::TemporaryFailure},
        {"yahoo receiving too quickly", line("450 User is receiving mail too quickly"), S::RcptTo, M::TemporaryFailure},
    };
    run(cases, std::size(cases));
}

TEST(ReplyClassifier, RcptPostfix) {
    const Case cases[] = {
        {"postfix virtual",
         line("550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table"),
         S::RcptTo, M::MailboxNotFound},
        {"postfix local",
         line("550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table"),
         S::RcptTo, M::MailboxNotFound},
        {"postfix relay recipients",
         line("550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in relay recipient table"),
         S::RcptTo, M::MailboxNotFound},
        {"postgrey (text says 'address rejected', still greylisting)",
         line("450 4.2.0 <probe@example.org>: Recipient address rejected: Greylisted, see "
              "http://postgrey.schweikert.ch/help/example.org.html"),
         S::RcptTo, M::Greylisted},
        {"postfix rbl",
         line("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; "
              "https://www.spamhaus.org/query/ip/192.0.2.1"),
         S::RcptTo, M::Blocked},
        {"postfix server disk full", line("452 4.3.1 Insufficient system storage"), S::RcptTo, M::TemporaryFailure},
        {"postfix too many recipients", line("452 4.5.3 Error: too many recipients"), S::RcptTo, M::TooManyRecipients},
        {"postfix relay denied", line("554 5.7.1 <someone@example.net>: Relay access denied"), S::RcptTo, M::Blocked},
        {"postfix recipient relay denied",
         line("554 5.7.1 <someone@example.net>: Recipient address rejected: Relay access denied"), S::RcptTo,
         M::Blocked},
        {"postfix access map", line("554 5.7.1 <someone@example.org>: Recipient address rejected: Access denied"),
         S::RcptTo, M::Blocked},
        {"postfix delayed sender restriction",
         line("554 5.7.1 <probe@example.net>: Sender address rejected: Access denied"), S::RcptTo, M::Blocked},
        {"postfix unknown sender domain (5.1.8 is our address)",
         line("550 5.1.8 <probe@example.net>: Sender address rejected: Domain not found"), S::RcptTo, M::Blocked},
        {"postfix unknown sender domain, temporary",
         line("450 4.1.8 <probe@example.net>: Sender address rejected: Domain not found"), S::RcptTo,
         M::TemporaryFailure},
        {"postfix unlisted sender (5.1.0 about the sender)",
         line("550 5.1.0 <probe@example.net>: Sender address rejected: User unknown in virtual mailbox table"),
         S::RcptTo, M::Blocked},
        {"postfix unverified recipient, temporary",
         line("450 4.1.1 <x@example.org>: Recipient address rejected: unverified address: connect to "
              "mail.example.org[192.0.2.9]:25: Connection timed out"),
         S::RcptTo, M::TemporaryFailure},
        {"postfix recipient domain not found, temporary",
         line("450 4.1.2 <x@example.org>: Recipient address rejected: Domain not found"), S::RcptTo,
         M::TemporaryFailure},
        {"postfix reverse hostname, temporary",
         line("450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]"), S::RcptTo,
         M::TemporaryFailure},
        {"postfix reverse hostname, permanent",
         line("550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]"), S::RcptTo, M::Blocked},
        {"postfix helo check at rcpt",
         line("504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"), S::RcptTo, M::Blocked},
        {"postfix need MAIL first (pipelined after a refused MAIL FROM)", line("503 5.5.1 Error: need MAIL command"),
         S::RcptTo, M::ProtocolError},
        {"postfix 552 quota via virtual delivery", line("552 5.2.2 <x@example.org>: Mailbox full"), S::RcptTo,
         M::MailboxFull},
        {"trend micro ERS-RBL", line("550 5.7.1 <rec@example.com.au>: Recipient address rejected: ERS-RBL."), S::RcptTo,
         M::Blocked},
        {"plesk greylisting", line("451 4.7.1 Service unavailable - try again later"), S::RcptTo, M::Greylisted},
        {"policyd greylisting",
         line("450 4.7.1 <x@example.org>: Recipient address rejected: Policy Rejection: Greylisting - Please try "
              "later."),
         S::RcptTo, M::Greylisted},
        {"sqlgrey", line("451 Greylisted for 5 minutes (1)"), S::RcptTo, M::Greylisted},
        {"rspamd greylisting", line("451 4.7.1 Try again later"), S::RcptTo, M::Greylisted},
        {"milter-greylist", line("451 4.7.1 Greylisting in action, please come back later"), S::RcptTo, M::Greylisted},
        {"dovecot lmtp via proxy", line("550 5.1.1 <x@example.org> User doesn't exist: x@example.org"), S::RcptTo,
         M::MailboxNotFound},
        {"mailbox moved", line("550 5.1.6 Recipient addresses moved"), S::RcptTo, M::MailboxNotFound},
        {"bad destination system", line("550 5.1.2 Bad destination system address"), S::RcptTo, M::MailboxNotFound},
    };
    run(cases, std::size(cases));
}

TEST(ReplyClassifier, RcptEximSendmailQmailOthers) {
    const Case cases[] = {
        {"exim unrouteable", line("550 Unrouteable address"), S::RcptTo, M::MailboxNotFound},
        {"exim unknown user", line("550 5.1.1 <nobody@example.org>: unknown user"), S::RcptTo, M::MailboxNotFound},
        {"exim local problem (says try later, is not greylisting)",
         line("451 Temporary local problem - please try later"), S::RcptTo, M::TemporaryFailure},
        {"exim sender verify (multiline)",
         "550-Verification failed for <probe@example.net>\r\n550-Unrouteable address\r\n550 Sender verify failed\r\n",
         S::RcptTo, M::Blocked},
        {"exim too many", line("452 too many recipients"), S::RcptTo, M::TooManyRecipients},
        {"exim 550 relay not permitted", line("550 relay not permitted"), S::RcptTo, M::Blocked},
        {"sendmail user unknown", line("550 5.1.1 <nobody@example.org>... User unknown"), S::RcptTo,
         M::MailboxNotFound},
        {"sendmail no code", line("550 nobody@example.org... User unknown"), S::RcptTo, M::MailboxNotFound},
        {"qmail no mailbox", line("550 sorry, no mailbox here by that name. (#5.1.1)"), S::RcptTo, M::MailboxNotFound},
        {"qmail rcpthosts", line("553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"), S::RcptTo,
         M::Blocked},
        {"rfc 5321 canonical 550", line("550 Requested action not taken: mailbox unavailable"), S::RcptTo,
         M::MailboxNotFound},
        {"rfc 5321 canonical 450 (busy)", line("450 Requested mail action not taken: mailbox busy"), S::RcptTo,
         M::TemporaryFailure},
        {"rfc 5321 canonical 451", line("451 Requested action aborted: local error in processing"), S::RcptTo,
         M::TemporaryFailure},
        {"rfc 5321 canonical 452 (server storage)", line("452 Requested action not taken: insufficient system storage"),
         S::RcptTo, M::TemporaryFailure},
        {"rfc 5321 canonical 552", line("552 Requested mail action aborted: exceeded storage allocation"), S::RcptTo,
         M::MailboxFull},
        {"552 word 'full'", line("552 Account full"), S::RcptTo, M::MailboxFull},
        {"550 word 'full' alone is not enough", line("550 Account full"), S::RcptTo, M::MailboxNotFound},
        {"452 quota", line("452 Quota exceeded for x@example.org"), S::RcptTo, M::MailboxFull},
        {"452 insufficient (the user's)", line("452 Insufficient space in user mailbox"), S::RcptTo, M::MailboxFull},
        {"550 quota text without enhanced code", line("550 Mailbox quota exceeded"), S::RcptTo, M::MailboxFull},
        {"rfc 5321 canonical 551", line("551 User not local; please try <x@example.net>"), S::RcptTo,
         M::MailboxNotFound},
        {"rfc 5321 canonical 553", line("553 Requested action not taken: mailbox name not allowed"), S::RcptTo,
         M::MailboxNotFound},
        {"bare 550, no hint", line("550"), S::RcptTo, M::MailboxNotFound},
        {"bare 554, no hint", line("554 Transaction failed"), S::RcptTo, M::MailboxNotFound},
        {"501 syntax in parameters", line("501 Syntax error in parameters or arguments"), S::RcptTo, M::ProtocolError},
        {"501 with 5.1.3 address syntax", line("501 5.1.3 Bad recipient address syntax"), S::RcptTo,
         M::MailboxNotFound},
        {"qq bad address syntax", line("501 Bad address syntax"), S::RcptTo, M::MailboxNotFound},
        {"qq mailbox not found", line("550 Mailbox not found. http://service.mail.qq.com/cgi-bin/help?subtype=1"),
         S::RcptTo, M::MailboxNotFound},
        {"163 user not found", line("550 User not found: 12345@example.com"), S::RcptTo, M::MailboxNotFound},
        {"juno not a valid user", line("550 x@example.com is not a valid user"), S::RcptTo, M::MailboxNotFound},
        {"coremail suspended", line("550 This account has been temporarily suspended"), S::RcptTo, M::MailboxDisabled},
        {"account inactive", line("550 5.2.0 Account inactive"), S::RcptTo, M::MailboxDisabled},
        {"502 not implemented", line("502 5.5.2 Error: command not recognized"), S::RcptTo, M::ProtocolError},
        {"4.2.1 generic is temporary (never disabled)", line("450 4.2.1 Mailbox disabled, try again later"), S::RcptTo,
         M::Greylisted},
        {"4.1.1 is temporary (never unknown user)", line("450 4.1.1 <x@example.org>: User unknown"), S::RcptTo,
         M::TemporaryFailure},
        {"451 4.7.1 please try again", line("451 4.7.1 Please try again in 300 seconds"), S::RcptTo, M::Greylisted},
        {"421 too many errors at rcpt", line("421 4.7.0 Too many errors"), S::RcptTo, M::ServiceClosing},
        {"relay at 4xx is just temporary", line("451 4.7.1 Relaying temporarily denied"), S::RcptTo,
         M::TemporaryFailure},
        {"251 will forward", line("251 2.1.5 User not local; will forward"), S::RcptTo, M::Accepted},
        {"252 cannot verify", line("252 2.1.5 Cannot VRFY user, but will accept message"), S::RcptTo, M::Accepted},
        {"354 at rcpt makes no sense", line("354 Start mail input"), S::RcptTo, M::ProtocolError},
    };
    run(cases, std::size(cases));
}

TEST(ReplyClassifier, RcptRussianProviders) {
    const Case cases[] = {
        {"mail.ru accepts any rcpt", line("250 Go ahead"), S::RcptTo, M::Accepted},
        {"mail.ru user not found",
         line("550 Message was not accepted -- invalid mailbox. Local mailbox nobody@mail.ru is unavailable: user "
              "not found"),
         S::RcptTo, M::MailboxNotFound},
        {"coremail user disabled", line("550 user disabled"), S::RcptTo, M::MailboxDisabled},
        {"mail.ru quota", line("552 5.2.2 User quota exceeded"), S::RcptTo, M::MailboxFull},
        {"yandex unknown user under 5.7.1", line("550 5.7.1 No such user!"), S::RcptTo, M::MailboxNotFound},
        {"yandex policy", line("550 5.7.1 Policy rejection on the target address"), S::RcptTo, M::Blocked},
        {"5.7.0 access deny is still a block", line("550 5.7.0 user access deny."), S::RcptTo, M::Blocked},
    };
    run(cases, std::size(cases));
}

// ---------------------------------------------------------------------------
// The other stages.

TEST(ReplyClassifier, Banner) {
    const Case cases[] = {
        {"gmail banner", line("220 mx.google.com ESMTP d72si22370812qhc.8 - gsmtp"), S::Banner, M::Accepted},
        {"multiline banner", "220-mx.example.org ESMTP\r\n220 no UCE\r\n", S::Banner, M::Accepted},
        {"rfc 5321 554 greeting", line("554 mx.example.org ESMTP not accepting messages"), S::Banner, M::Blocked},
        {"postscreen rbl", line("554 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org"),
         S::Banner, M::Blocked},
        {"yahoo VS99", line("553 VS99-IP1 deferred"), S::Banner, M::Blocked},
        {"any other 5xx", line("550 go away"), S::Banner, M::Blocked},
        {"yahoo busy", line("421 Resources temporarily unavailable. Please try again later."), S::Banner,
         M::ServiceClosing},
        {"gmail 421 dos", line("421 4.7.0 Try again later, closing connection. - gsmtp"), S::Banner, M::ServiceClosing},
        {"4xx greeting", line("450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]"), S::Banner,
         M::TemporaryFailure},
        {"greylist text at banner is only temporary", line("451 greylisted, try again later"), S::Banner,
         M::TemporaryFailure},
        {"3xx greeting", line("354 what"), S::Banner, M::ProtocolError},
    };
    run(cases, std::size(cases));
}

TEST(ReplyClassifier, EhloHelo) {
    const Case cases[] = {
        {"ehlo ok", "250-mx.example.org\r\n250-PIPELINING\r\n250 STARTTLS\r\n", S::Ehlo, M::Accepted},
        {"ehlo unsupported", line("502 5.5.2 Error: command not recognized"), S::Ehlo, M::Rejected},
        {"ehlo 500", line("500 Command unrecognized"), S::Ehlo, M::Rejected},
        {"helo syntax", line("501 Syntax: HELO hostname"), S::Helo, M::Rejected},
        {"helo fqdn policy", line("504 5.5.2 <probe>: Helo command rejected: need fully-qualified hostname"), S::Helo,
         M::Blocked},
        {"ehlo 5.7", line("550 5.7.1 Go away"), S::Ehlo, M::Blocked},
        {"ehlo blocklist text", line("550 Your IP is listed on a blacklist"), S::Ehlo, M::Blocked},
        {"ehlo 4xx", line("451 4.3.0 Temporary error"), S::Ehlo, M::TemporaryFailure},
        {"ehlo 421", line("421 4.4.5 Server busy, try again later."), S::Helo, M::ServiceClosing},
    };
    run(cases, std::size(cases));
}

TEST(ReplyClassifier, StartTls) {
    const Case cases[] = {
        {"starttls ok", line("220 2.0.0 Ready to start TLS"), S::StartTls, M::Accepted},
        {"starttls unavailable", line("454 4.7.0 TLS not available due to local problem"), S::StartTls, M::Rejected},
        {"starttls unknown", line("502 5.5.1 Unrecognized command"), S::StartTls, M::Rejected},
        {"starttls closing", line("421 4.7.0 Too many TLS errors"), S::StartTls, M::ServiceClosing},
    };
    run(cases, std::size(cases));
}

TEST(ReplyClassifier, MailFrom) {
    const Case cases[] = {
        {"ok", line("250 2.1.0 OK d72si22370812qhc.8 - gsmtp"), S::MailFrom, M::Accepted},
        {"postfix ok", line("250 2.1.0 Ok"), S::MailFrom, M::Accepted},
        {"spf/policy", line("550 5.7.1 Sender rejected by policy"), S::MailFrom, M::Blocked},
        {"554 plain", line("554 Transaction failed"), S::MailFrom, M::Blocked},
        {"rbl text", line("550 Rejected: 192.0.2.1 listed at dnsbl.example"), S::MailFrom, M::Blocked},
        {"spam mention via reputation", line("550 5.0.0 Mail rejected due to poor reputation"), S::MailFrom,
         M::Blocked},
        {"sender syntax", line("501 5.1.7 Bad sender address syntax"), S::MailFrom, M::Rejected},
        {"sender system", line("553 5.1.8 Domain of sender address does not resolve"), S::MailFrom, M::Rejected},
        {"null sender refused", line("550 5.1.0 Null sender not allowed"), S::MailFrom, M::Rejected},
        {"temporary", line("451 4.3.0 Temporary local problem"), S::MailFrom, M::TemporaryFailure},
        {"greylisted at MAIL FROM", line("451 4.7.1 Greylisting in action, please come back later"), S::MailFrom,
         M::Greylisted},
        {"rate limited", line("450 4.7.1 Rate limit exceeded"), S::MailFrom, M::TemporaryFailure},
        {"closing", line("421 4.7.0 Too many errors"), S::MailFrom, M::ServiceClosing},
    };
    run(cases, std::size(cases));
}

TEST(ReplyClassifier, Rset) {
    const Case cases[] = {
        {"ok", line("250 2.0.0 Ok"), S::Rset, M::Accepted},
        {"4xx", line("451 4.3.0 try later"), S::Rset, M::TemporaryFailure},
        {"5xx", line("502 5.5.1 not implemented"), S::Rset, M::Rejected},
        {"421", line("421 closing"), S::Rset, M::ServiceClosing},
    };
    run(cases, std::size(cases));
}

// ---------------------------------------------------------------------------
// Properties that hold for every reply.

TEST(ReplyClassifier, ThreeHundredsAreProtocolErrorsEverywhere) {
    for (Stage s : {S::Banner, S::Ehlo, S::Helo, S::StartTls, S::MailFrom, S::RcptTo, S::Rset})
        for (const char* raw : {"354 End data with <CR><LF>.<CR><LF>\r\n", "334 VXNlcm5hbWU6\r\n", "300\r\n"})
            EXPECT_EQ(classify(parse(raw), s), M::ProtocolError) << stage_name(s) << " " << raw;
}

TEST(ReplyClassifier, FourHundredsAreNeverPermanent) {
    const char* texts[] = {
        "User unknown",
        "No such user",
        "mailbox disabled",
        "account inactive",
        "blocked using zen.spamhaus.org",
        "Recipient address rejected: User unknown in virtual mailbox table",
        "Access denied",
        "5.1.1 x",
        "4.1.1 User unknown",
        "4.2.1 Account disabled",
        "4.7.1 blocked",
        "Sender address rejected",
    };
    for (int code : {450, 451, 452, 454, 471}) {
        for (const char* t : texts) {
            Reply r = parse(std::to_string(code) + " " + t + "\r\n");
            for (Stage s : {S::Banner, S::Ehlo, S::Helo, S::MailFrom, S::RcptTo, S::Rset}) {
                Meaning m = classify(r, s);
                EXPECT_TRUE(m == M::TemporaryFailure || m == M::Greylisted || m == M::MailboxFull ||
                            m == M::TooManyRecipients)
                    << r.summary() << " at " << stage_name(s);
            }
        }
    }
}

TEST(ReplyClassifier, FourTwoOneClosesEverywhere) {
    for (Stage s : {S::Banner, S::Ehlo, S::Helo, S::StartTls, S::MailFrom, S::RcptTo, S::Rset})
        EXPECT_EQ(classify(parse("421 4.7.0 Too many errors\r\n"), s), M::ServiceClosing) << stage_name(s);
}

TEST(ReplyClassifier, TwoHundredsAreAcceptedEverywhere) {
    for (Stage s : {S::Banner, S::Ehlo, S::Helo, S::StartTls, S::MailFrom, S::RcptTo, S::Rset})
        for (const char* raw : {"250 OK\r\n", "220 ready\r\n", "251 forward\r\n", "250\r\n"})
            EXPECT_EQ(classify(parse(raw), s), M::Accepted) << stage_name(s) << " " << raw;
}

TEST(ReplyClassifier, HandBuiltRepliesOutsideTheGrammar) {
    Reply none;  // code 0, never produced by the reader
    EXPECT_EQ(classify(none, S::RcptTo), M::ProtocolError);
    Reply high;
    high.code = 699;
    EXPECT_EQ(classify(high, S::RcptTo), M::ProtocolError);

    // An enhanced code whose class disagrees with the reply is ignored.
    Reply odd;
    odd.code = 550;
    odd.enhanced = EnhancedCode{4, 2, 2};
    odd.text = "whatever";
    EXPECT_EQ(classify(odd, S::RcptTo), M::MailboxNotFound);
}

TEST(ReplyClassifier, CaseDoesNotMatter) {
    EXPECT_EQ(classify(parse("450 GREYLISTED\r\n"), S::RcptTo), M::Greylisted);
    EXPECT_EQ(classify(parse("550 CLIENT BLOCKED USING ZEN.SPAMHAUS.ORG\r\n"), S::RcptTo), M::Blocked);
    EXPECT_EQ(classify(parse("552 MAILBOX FULL\r\n"), S::RcptTo), M::MailboxFull);
}

// ---------------------------------------------------------------------------
// mentions_block and reason_for.

TEST(ReplyClassifier, MentionsBlock) {
    struct Row {
        const char* text;
        bool block;
    } rows[] = {
        {"Client host [192.0.2.1] blocked using zen.spamhaus.org", true},
        {"Your IP is on our BLOCK LIST", true},
        {"listed in dnsbl.sorbs.net", true},
        {"Recipient address rejected: ERS-RBL.", true},
        {"poor reputation", true},
        {"Access denied, banned sending IP", true},
        {"Client host rejected: cannot find your reverse hostname", true},
        {"Relay access denied", true},
        {"Sender address rejected: Domain not found", true},
        {"barracuda reputation block", true},
        {"User unknown in virtual mailbox table", false},
        {"The email account that you tried to reach does not exist", false},
        {"marble garbled verbless", false},  // "rbl" inside words is not an RBL
        {"Greylisted, see http://postgrey.schweikert.ch/", false},
        {"", false},
    };
    for (const Row& row : rows) EXPECT_EQ(mentions_block(row.text), row.block) << row.text;
}

TEST(ReplyClassifier, ReasonsFollowTheSpec) {
    struct Row {
        Meaning meaning;
        std::optional<Reason> reason;
    } rows[] = {
        {M::Accepted, std::nullopt},
        {M::MailboxNotFound, Reason::MailboxNotFound},
        {M::MailboxDisabled, Reason::MailboxDisabled},
        {M::MailboxFull, Reason::MailboxFull},
        {M::TooManyRecipients, std::nullopt},
        {M::Greylisted, Reason::Greylisted},
        {M::TemporaryFailure, Reason::TemporaryFailure},
        {M::ServiceClosing, std::nullopt},
        {M::Blocked, Reason::SmtpBlocked},
        {M::Rejected, Reason::SmtpBlocked},
        {M::ProtocolError, Reason::TemporaryFailure},
    };
    for (const Row& row : rows) EXPECT_EQ(reason_for(row.meaning), row.reason) << static_cast<int>(row.meaning);
}

}  // namespace
}  // namespace ev::smtp
