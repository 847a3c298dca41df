#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "smtp/reply.h"

namespace ev::smtp {
namespace {

using State = ReplyReader::State;

std::vector<Reply> take_all(ReplyReader& reader) {
    std::vector<Reply> out;
    while (reader.has_reply()) out.push_back(reader.take());
    return out;
}

// Feeds everything at once; the reader must end with exactly one reply and
// nothing pending.
Reply read_one(std::string_view raw) {
    ReplyReader reader;
    EXPECT_EQ(reader.feed(raw), State::Ready) << raw;
    std::vector<Reply> replies = take_all(reader);
    EXPECT_EQ(replies.size(), 1u) << raw;
    EXPECT_EQ(reader.pending_bytes(), 0u) << raw;
    return replies.empty() ? Reply{} : replies.front();
}

void expect_same(const Reply& a, const Reply& b, const std::string& context) {
    EXPECT_EQ(a.code, b.code) << context;
    EXPECT_EQ(a.enhanced.has_value(), b.enhanced.has_value()) << context;
    if (a.enhanced && b.enhanced) {
        EXPECT_TRUE(*a.enhanced == *b.enhanced) << context;
    }
    EXPECT_EQ(a.text, b.text) << context;
    EXPECT_EQ(a.lines, b.lines) << context;
}

// ---------------------------------------------------------------------------
// Well-formed replies, table-driven: raw bytes in, parsed fields out.

struct ParseCase {
    const char* name;
    std::string raw;
    int code;
    const char* enhanced;  // "5.1.1" or nullptr
    const char* text;
    std::vector<std::string> lines;
    const char* summary;
};

std::string enhanced_string(const Reply& r) {
    if (!r.enhanced) return "";
    return std::to_string(r.enhanced->klass) + "." + std::to_string(r.enhanced->subject) + "." +
           std::to_string(r.enhanced->detail);
}

TEST(SmtpReplyReader, ParsesWellFormedReplies) {
    const ParseCase cases[] = {
        {"banner",
         "220 mx.google.com ESMTP d72si22370812qhc.8 - gsmtp\r\n",
         220,
         nullptr,
         "mx.google.com ESMTP d72si22370812qhc.8 - gsmtp",
         {"mx.google.com ESMTP d72si22370812qhc.8 - gsmtp"},
         "220 mx.google.com ESMTP d72si22370812qhc.8 - gsmtp"},
        {"bare LF", "250 OK\n", 250, nullptr, "OK", {"OK"}, "250 OK"},
        {"enhanced stripped",
         "250 2.1.5 Recipient OK\r\n",
         250,
         "2.1.5",
         "Recipient OK",
         {"2.1.5 Recipient OK"},
         "250 2.1.5 Recipient OK"},
        {"two-digit detail",
         "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup\r\n",
         550,
         "5.1.10",
         "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
         {"5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
         "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
        {"three-digit detail",
         "550 5.7.606 Access denied, banned sending IP [192.0.2.1]\r\n",
         550,
         "5.7.606",
         "Access denied, banned sending IP [192.0.2.1]",
         {"5.7.606 Access denied, banned sending IP [192.0.2.1]"},
         "550 5.7.606 Access denied, banned sending IP [192.0.2.1]"},
        {"gmail multiline",
         "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
         "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
         "550-5.1.1 unnecessary spaces. Learn more at\r\n"
         "550 5.1.1 https://support.google.com/mail/answer/6596 d72si22370812qhc.8 - gsmtp\r\n",
         550,
         "5.1.1",
         "The email account that you tried to reach does not exist. Please try double-checking the recipient's "
         "email address for typos or unnecessary spaces. Learn more at "
         "https://support.google.com/mail/answer/6596 d72si22370812qhc.8 - gsmtp",
         {"5.1.1 The email account that you tried to reach does not exist. Please try",
          "5.1.1 double-checking the recipient's email address for typos or", "5.1.1 unnecessary spaces. Learn more at",
          "5.1.1 https://support.google.com/mail/answer/6596 d72si22370812qhc.8 - gsmtp"},
         nullptr},
        {"ehlo keywords",
         "250-mx.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n",
         250,
         nullptr,
         "mx.example.org Hello PIPELINING SIZE 10240000 STARTTLS SMTPUTF8",
         {"mx.example.org Hello", "PIPELINING", "SIZE 10240000", "STARTTLS", "SMTPUTF8"},
         nullptr},
        {"last line is just the code",
         "250-mx.example.org\r\n250-8BITMIME\r\n250\r\n",
         250,
         nullptr,
         "mx.example.org 8BITMIME",
         {"mx.example.org", "8BITMIME", ""},
         "250 mx.example.org 8BITMIME"},
        {"single line without text", "250\r\n", 250, nullptr, "", {""}, "250"},
        {"code and space only", "250 \r\n", 250, nullptr, "", {""}, "250"},
        {"empty continuation", "250-\r\n250 OK\r\n", 250, nullptr, "OK", {"", "OK"}, "250 OK"},
        {"enhanced code only", "550 5.1.1\r\n", 550, "5.1.1", "", {"5.1.1"}, "550 5.1.1"},
        {"class mismatch is text", "550 2.1.5 odd\r\n", 550, nullptr, "2.1.5 odd", {"2.1.5 odd"}, "550 2.1.5 odd"},
        {"first enhanced wins",
         "550-5.1.1 first\r\n550 5.7.1 second\r\n",
         550,
         "5.1.1",
         "first second",
         {"5.1.1 first", "5.7.1 second"},
         "550 5.1.1 first second"},
        {"enhanced only on a later line",
         "452-Hello\r\n452 4.5.3 Too many recipients\r\n",
         452,
         "4.5.3",
         "Hello Too many recipients",
         {"Hello", "4.5.3 Too many recipients"},
         nullptr},
        {"exchange 2003 hash form",
         "550 #5.7.1 Your access to submit messages to this e-mail system has been rejected.\r\n",
         550,
         "5.7.1",
         "Your access to submit messages to this e-mail system has been rejected.",
         {"#5.7.1 Your access to submit messages to this e-mail system has been rejected."},
         nullptr},
        {"qmail trailing code stays text",
         "550 sorry, no mailbox here by that name. (#5.1.1)\r\n",
         550,
         nullptr,
         "sorry, no mailbox here by that name. (#5.1.1)",
         {"sorry, no mailbox here by that name. (#5.1.1)"},
         nullptr},
        {"four-part version is not a code", "550 5.1.1.1 x\r\n", 550, nullptr, "5.1.1.1 x", {"5.1.1.1 x"}, nullptr},
        {"controls become spaces",
         std::string("550 5.1.1 a\tb\x01") + "c\rd\x7f" + "e\r\n",
         550,
         "5.1.1",
         "a b c d e",
         {std::string("5.1.1 a\tb\x01") + "c\rd\x7f" + "e"},
         nullptr},
        {"NUL becomes a space", std::string("250 a\0b\r\n", 9), 250, nullptr, "a b", {std::string("a\0b", 3)}, nullptr},
        {"ends trimmed, lines joined by one space",
         "250-  spaced out   \r\n250   again \r\n",
         250,
         nullptr,
         "spaced out again",
         {"  spaced out   ", "  again "},
         nullptr},
        {"latin-1 kept as given",
         "550 Benutzer unbekannt: M\xfcller\r\n",
         550,
         nullptr,
         "Benutzer unbekannt: M\xfcller",
         {"Benutzer unbekannt: M\xfcller"},
         nullptr},
        {"utf-8 kept",
         "550 5.1.1 Адресат не найден\r\n",
         550,
         "5.1.1",
         "Адресат не найден",
         {"5.1.1 Адресат не найден"},
         nullptr},
        {"highest code", "599 weird\r\n", 599, nullptr, "weird", {"weird"}, nullptr},
        {"lowest code", "200 fine\r\n", 200, nullptr, "fine", {"fine"}, nullptr},
    };
    for (const ParseCase& c : cases) {
        SCOPED_TRACE(c.name);
        Reply r = read_one(c.raw);
        EXPECT_EQ(r.code, c.code);
        EXPECT_EQ(enhanced_string(r), c.enhanced ? c.enhanced : "");
        EXPECT_EQ(r.text, c.text);
        EXPECT_EQ(r.lines, c.lines);
        EXPECT_EQ(r.klass(), c.code / 100);
        if (c.summary) {
            EXPECT_EQ(r.summary(), c.summary);
        }
    }
}

TEST(SmtpReplyReader, SummaryHasNoTrailingSpace) {
    Reply r;
    r.code = 550;
    EXPECT_EQ(r.summary(), "550");
    r.enhanced = EnhancedCode{5, 1, 10};
    EXPECT_EQ(r.summary(), "550 5.1.10");
    r.text = "Recipient not found";
    EXPECT_EQ(r.summary(), "550 5.1.10 Recipient not found");
    r.enhanced.reset();
    EXPECT_EQ(r.summary(), "550 Recipient not found");
}

// ---------------------------------------------------------------------------
// parse_enhanced_code on its own.

TEST(SmtpReplyReader, EnhancedCodeGrammar) {
    struct Row {
        const char* text;
        bool ok;
        int klass, subject, detail;
    } rows[] = {
        {"5.1.1", true, 5, 1, 1},
        {"5.1.1 User unknown", true, 5, 1, 1},
        {"4.7.0 Try again", true, 4, 7, 0},
        {"2.0.0 OK", true, 2, 0, 0},
        {"5.1.10 x", true, 5, 1, 10},
        {"5.7.606 x", true, 5, 7, 606},
        {"5.999.999", true, 5, 999, 999},
        {"5.0.0", true, 5, 0, 0},
        {"3.1.1 x", false, 0, 0, 0},  // class 3 does not exist
        {"6.1.1 x", false, 0, 0, 0},
        {"5.1 x", false, 0, 0, 0},
        {"5.1.", false, 0, 0, 0},
        {"5..1 x", false, 0, 0, 0},
        {"5.1.1000 x", false, 0, 0, 0},  // detail is at most three digits
        {"5.1000.1 x", false, 0, 0, 0},
        {"5.1.1x", false, 0, 0, 0},  // must end or be followed by a space
        {"5.1.1.1", false, 0, 0, 0},
        {"5.1.1\tx", false, 0, 0, 0},
        {" 5.1.1", false, 0, 0, 0},
        {"55.1.1", false, 0, 0, 0},
        {"", false, 0, 0, 0},
        {"x", false, 0, 0, 0},
    };
    for (const Row& row : rows) {
        auto code = parse_enhanced_code(row.text);
        EXPECT_EQ(code.has_value(), row.ok) << row.text;
        if (code && row.ok) {
            EXPECT_EQ(code->klass, row.klass) << row.text;
            EXPECT_EQ(code->subject, row.subject) << row.text;
            EXPECT_EQ(code->detail, row.detail) << row.text;
        }
    }
}

// ---------------------------------------------------------------------------
// Chunking: bytes may be split anywhere, the result must not change.

const char* const kSession =
    "220-mx.example.org ESMTP Postfix\r\n"
    "220 no UCE\r\n"
    "250-mx.example.org\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250 SMTPUTF8\r\n"
    "250 2.1.0 Ok\n"
    "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table\r\n"
    "450 4.2.0 <probe@example.org>: Recipient address rejected: Greylisted, see "
    "http://postgrey.schweikert.ch/help/example.org.html\r\n"
    "250\r\n"
    "221 2.0.0 Bye\r\n";

std::vector<Reply> read_whole(std::string_view raw) {
    ReplyReader reader;
    reader.feed(raw);
    EXPECT_FALSE(reader.failed()) << reader.error();
    return take_all(reader);
}

TEST(SmtpReplyReader, SplitAtEveryBytePositionGivesTheSameReplies) {
    std::string session = kSession;
    std::vector<Reply> whole = read_whole(session);
    ASSERT_EQ(whole.size(), 7u);
    for (std::size_t cut = 0; cut <= session.size(); ++cut) {
        ReplyReader reader;
        reader.feed(std::string_view(session).substr(0, cut));
        std::vector<Reply> got = take_all(reader);
        reader.feed(std::string_view(session).substr(cut));
        for (Reply& r : take_all(reader)) got.push_back(std::move(r));
        ASSERT_FALSE(reader.failed()) << "cut at " << cut;
        ASSERT_EQ(got.size(), whole.size()) << "cut at " << cut;
        for (std::size_t i = 0; i < got.size(); ++i) expect_same(got[i], whole[i], "cut at " + std::to_string(cut));
        EXPECT_EQ(reader.pending_bytes(), 0u);
    }
}

TEST(SmtpReplyReader, SplitAtEveryPairOfPositionsGivesTheSameReplies) {
    std::string raw = "550-5.1.1 one\r\n550-5.1.1 two\n550 5.1.1 three\r\n250 ok\r\n";
    std::vector<Reply> whole = read_whole(raw);
    ASSERT_EQ(whole.size(), 2u);
    for (std::size_t a = 0; a <= raw.size(); ++a) {
        for (std::size_t b = a; b <= raw.size(); ++b) {
            ReplyReader reader;
            std::vector<Reply> got;
            for (auto piece : {std::string_view(raw).substr(0, a), std::string_view(raw).substr(a, b - a),
                               std::string_view(raw).substr(b)}) {
                reader.feed(piece);
                for (Reply& r : take_all(reader)) got.push_back(std::move(r));
            }
            ASSERT_EQ(got.size(), 2u) << a << "," << b;
            for (std::size_t i = 0; i < 2; ++i)
                expect_same(got[i], whole[i], std::to_string(a) + "," + std::to_string(b));
        }
    }
}

TEST(SmtpReplyReader, OneByteAtATime) {
    std::string session = kSession;
    std::vector<Reply> whole = read_whole(session);
    ReplyReader reader;
    std::vector<Reply> got;
    for (char c : session) {
        State s = reader.feed(std::string_view(&c, 1));
        ASSERT_NE(s, State::Failed);
        if (c != '\n') {
            EXPECT_EQ(s, State::NeedMore);
        }
        for (Reply& r : take_all(reader)) got.push_back(std::move(r));
    }
    ASSERT_EQ(got.size(), whole.size());
    for (std::size_t i = 0; i < got.size(); ++i) expect_same(got[i], whole[i], "byte " + std::to_string(i));
}

TEST(SmtpReplyReader, CrAndLfInDifferentChunks) {
    ReplyReader reader;
    EXPECT_EQ(reader.feed("250 OK\r"), State::NeedMore);
    EXPECT_EQ(reader.pending_bytes(), 7u);
    EXPECT_EQ(reader.feed("\n"), State::Ready);
    Reply r = reader.take();
    EXPECT_EQ(r.text, "OK");
    EXPECT_EQ(r.lines, std::vector<std::string>{"OK"});
}

// ---------------------------------------------------------------------------
// Pipelining: several replies in one read, taken in order.

TEST(SmtpReplyReader, PipelinedRepliesInOneChunkComeOutInOrder) {
    ReplyReader reader;
    EXPECT_EQ(
        reader.feed("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 User unknown\r\n452 4.5.3 Too many recipients\r\n"),
        State::Ready);
    std::vector<int> codes;
    while (reader.has_reply()) codes.push_back(reader.take().code);
    EXPECT_EQ(codes, (std::vector<int>{250, 250, 550, 452}));
    EXPECT_FALSE(reader.has_reply());
}

TEST(SmtpReplyReader, CompleteReplyFollowedByPartialOne) {
    ReplyReader reader;
    EXPECT_EQ(reader.feed("250 Ok\r\n550-5.1.1 first line\r\n550 5.1"), State::Ready);
    EXPECT_EQ(reader.take().code, 250);
    EXPECT_FALSE(reader.has_reply());
    EXPECT_EQ(reader.feed(".1 second line\r\n"), State::Ready);
    Reply r = reader.take();
    EXPECT_EQ(r.code, 550);
    EXPECT_EQ(r.text, "first line second line");
}

TEST(SmtpReplyReader, ReadyUntilEveryReplyIsTaken) {
    ReplyReader reader;
    EXPECT_EQ(reader.feed("250 a\r\n250 b\r\n"), State::Ready);
    reader.take();
    EXPECT_EQ(reader.feed(""), State::Ready);
    reader.take();
    EXPECT_EQ(reader.feed(""), State::NeedMore);
}

TEST(SmtpReplyReader, NothingYet) {
    ReplyReader reader;
    EXPECT_FALSE(reader.has_reply());
    EXPECT_FALSE(reader.failed());
    EXPECT_EQ(reader.pending_bytes(), 0u);
    EXPECT_EQ(reader.feed(""), State::NeedMore);
    EXPECT_EQ(reader.feed("250-partial\r\n"), State::NeedMore);
    EXPECT_FALSE(reader.has_reply());
}

TEST(SmtpReplyReader, TakeWithoutReplyIsHarmless) {
    ReplyReader reader;
    Reply r = reader.take();
    EXPECT_EQ(r.code, 0);
    EXPECT_TRUE(r.lines.empty());
}

// ---------------------------------------------------------------------------
// pending_bytes: what STARTTLS needs to see the server send nothing early.

TEST(SmtpReplyReader, PendingBytesCountsPartialLinesAndPartialReplies) {
    ReplyReader reader;
    reader.feed("220 Ready to start TLS\r\n");
    ASSERT_TRUE(reader.has_reply());
    reader.take();
    EXPECT_EQ(reader.pending_bytes(), 0u);

    ReplyReader injected;
    injected.feed("220 Ready to start TLS\r\n250-injected\r\n");
    injected.take();
    EXPECT_EQ(injected.pending_bytes(), 14u);  // a whole line of a reply not yet complete

    ReplyReader tail;
    tail.feed("220 go\r\nX");
    tail.take();
    EXPECT_EQ(tail.pending_bytes(), 1u);
}

// ---------------------------------------------------------------------------
// Malformed input: the reader fails for good and says why.

struct BadCase {
    const char* name;
    std::string raw;
};

TEST(SmtpReplyReader, MalformedRepliesFail) {
    const BadCase cases[] = {
        {"codes differ between lines", "250-first\r\n251 second\r\n"},
        {"class differs between lines", "250-first\r\n550 second\r\n"},
        {"no code", "hello\r\n"},
        {"empty line", "\r\n"},
        {"bare empty line", "\n"},
        {"two digits", "25\r\n"},
        {"two digits and text", "25 ok\r\n"},
        {"code 1xx", "199 odd\r\n"},
        {"code 6xx", "600 odd\r\n"},
        {"code 000", "000 odd\r\n"},
        {"letter in code", "2x0 ok\r\n"},
        {"bad separator", "250x ok\r\n"},
        {"tab separator", "250\tok\r\n"},
        {"leading space", " 250 ok\r\n"},
        {"four digits", "2500 ok\r\n"},
        {"plus sign", "+OK POP3 server ready\r\n"},
        {"http", "HTTP/1.1 400 Bad Request\r\n"},
        {"garbage after a continuation", "250-ok\r\njunk\r\n"},
    };
    for (const BadCase& c : cases) {
        SCOPED_TRACE(c.name);
        ReplyReader reader;
        EXPECT_EQ(reader.feed(c.raw), State::Failed);
        EXPECT_TRUE(reader.failed());
        EXPECT_FALSE(reader.error().empty());
        EXPECT_FALSE(reader.has_reply());
        EXPECT_EQ(reader.pending_bytes(), 0u);
    }
}

TEST(SmtpReplyReader, FailureIsFinal) {
    ReplyReader reader;
    EXPECT_EQ(reader.feed("bogus\r\n"), State::Failed);
    std::string why = reader.error();
    EXPECT_EQ(reader.feed("250 OK\r\n"), State::Failed);
    EXPECT_FALSE(reader.has_reply());
    EXPECT_EQ(reader.error(), why);
}

TEST(SmtpReplyReader, RepliesBeforeTheBadLineCanStillBeTaken) {
    ReplyReader reader;
    EXPECT_EQ(reader.feed("250 first\r\n250 second\r\nbogus\r\n250 never\r\n"), State::Failed);
    ASSERT_TRUE(reader.has_reply());
    EXPECT_EQ(reader.take().text, "first");
    EXPECT_EQ(reader.take().text, "second");
    EXPECT_FALSE(reader.has_reply());
}

// ---------------------------------------------------------------------------
// Limits: lines and replies are bounded, memory never grows with the input.

TEST(SmtpReplyReader, LineOfExactlyTheLimitIsAccepted) {
    std::string body(ReplyReader::kMaxLineBytes - 4, 'a');
    for (const char* end : {"\r\n", "\n"}) {
        Reply r = read_one("250 " + body + end);
        EXPECT_EQ(r.text.size(), body.size());
    }
}

TEST(SmtpReplyReader, LineOverTheLimitFails) {
    std::string body(ReplyReader::kMaxLineBytes - 3, 'a');  // one byte too many
    for (const char* end : {"\r\n", "\n"}) {
        ReplyReader reader;
        EXPECT_EQ(reader.feed("250 " + body + end), State::Failed) << end;
    }
}

TEST(SmtpReplyReader, EndlessLineFailsWithoutWaitingForItsEnd) {
    ReplyReader reader;
    std::string chunk(1000, 'a');
    reader.feed("250 ");
    State s = State::NeedMore;
    int chunks = 0;
    while (s == State::NeedMore && chunks < 100) {
        s = reader.feed(chunk);
        ++chunks;
        EXPECT_LE(reader.pending_bytes(), ReplyReader::kMaxLineBytes + 1);
    }
    EXPECT_EQ(s, State::Failed);
    EXPECT_LE(chunks, 5);
    EXPECT_EQ(reader.pending_bytes(), 0u);
}

TEST(SmtpReplyReader, HugeChunkWithoutLineEndFailsAtOnce) {
    ReplyReader reader;
    std::string chunk(1 << 20, 'x');
    EXPECT_EQ(reader.feed(chunk), State::Failed);
    EXPECT_EQ(reader.pending_bytes(), 0u);
}

TEST(SmtpReplyReader, LineLimitSplitAcrossFeeds) {
    // The limit holds for a line that arrives in many small pieces too.
    ReplyReader reader;
    std::string line = "250 " + std::string(ReplyReader::kMaxLineBytes - 3, 'a') + "\r\n";
    State s = State::NeedMore;
    for (std::size_t i = 0; i < line.size() && s != State::Failed; i += 7)
        s = reader.feed(std::string_view(line).substr(i, 7));
    EXPECT_EQ(s, State::Failed);
}

std::string reply_of_lines(std::size_t n) {
    std::string raw;
    for (std::size_t i = 1; i < n; ++i) raw += "250-line " + std::to_string(i) + "\r\n";
    raw += "250 last\r\n";
    return raw;
}

TEST(SmtpReplyReader, MaxLinesAccepted) {
    Reply r = read_one(reply_of_lines(ReplyReader::kMaxLines));
    EXPECT_EQ(r.lines.size(), ReplyReader::kMaxLines);
}

TEST(SmtpReplyReader, OneLineTooManyFails) {
    ReplyReader reader;
    EXPECT_EQ(reader.feed(reply_of_lines(ReplyReader::kMaxLines + 1)), State::Failed);
    EXPECT_FALSE(reader.has_reply());
}

TEST(SmtpReplyReader, EndlessContinuationFails) {
    ReplyReader reader;
    State s = State::NeedMore;
    std::size_t fed = 0;
    while (s == State::NeedMore && fed < 10 * ReplyReader::kMaxLines) {
        s = reader.feed("250-more\r\n");
        ++fed;
    }
    EXPECT_EQ(s, State::Failed);
    EXPECT_EQ(fed, ReplyReader::kMaxLines + 1);
}

TEST(SmtpReplyReader, LineCountResetsBetweenReplies) {
    ReplyReader reader;
    std::string raw = reply_of_lines(ReplyReader::kMaxLines);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(reader.feed(raw), State::Ready);
        EXPECT_EQ(reader.take().lines.size(), ReplyReader::kMaxLines);
    }
}

TEST(SmtpReplyReader, UnreadRepliesAreBounded) {
    // A server that keeps answering while nobody reads gets cut off.
    ReplyReader reader;
    State s = State::Ready;
    int fed = 0;
    while (s != State::Failed && fed < 100000) {
        s = reader.feed("250 ok\r\n");
        ++fed;
    }
    EXPECT_EQ(s, State::Failed);
    EXPECT_LT(fed, 100000);
}

TEST(SmtpReplyReader, ManyRepliesAreFineWhenTaken) {
    ReplyReader reader;
    for (int i = 0; i < 10000; ++i) {
        ASSERT_EQ(reader.feed("250 ok\r\n"), State::Ready);
        reader.take();
    }
    EXPECT_FALSE(reader.failed());
}

}  // namespace
}  // namespace ev::smtp
