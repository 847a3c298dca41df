// libFuzzer target: whatever a server sends, and however the network cuts it
// into reads, the reply reader must not crash, hang or hold more than one
// line of unparsed bytes; it must read the same replies whatever the
// chunking; and every reply it produces must classify at every stage.
//
// Input layout: the first byte seeds the chunk sizes, the rest is the byte
// stream from the server.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.h"
#include "smtp/reply_classifier.h"

namespace {

using ev::smtp::Meaning;
using ev::smtp::Reply;
using ev::smtp::ReplyReader;
using ev::smtp::Stage;

constexpr Stage kStages[] = {Stage::Banner,   Stage::Ehlo,   Stage::Helo, Stage::StartTls,
                             Stage::MailFrom, Stage::RcptTo, Stage::Rset};

void check_reply(const Reply& r) {
    if (r.code < 200 || r.code > 599) std::abort();
    if (r.lines.empty() || r.lines.size() > ReplyReader::kMaxLines) std::abort();
    for (const std::string& l : r.lines)
        if (l.size() + 4 > ReplyReader::kMaxLineBytes) std::abort();  // body after "250-"
    if (r.enhanced && r.enhanced->klass != r.klass()) std::abort();
    for (char c : r.text) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) std::abort();  // controls were replaced
    }
    if (!r.text.empty() && (r.text.front() == ' ' || r.text.back() == ' ')) std::abort();
    std::string summary = r.summary();
    if (summary.empty() || summary.back() == ' ') std::abort();

    ev::smtp::mentions_block(r.text);
    for (Stage s : kStages) {
        Meaning m = ev::smtp::classify(r, s);
        (void)ev::smtp::reason_for(m);
        if (r.klass() == 2 && m != Meaning::Accepted) std::abort();
        if (r.klass() == 3 && m != Meaning::ProtocolError) std::abort();
        if (r.code == 421 && m != Meaning::ServiceClosing) std::abort();
        // 4xx is never a permanent verdict about the mailbox.
        if (r.klass() == 4 && (m == Meaning::MailboxNotFound || m == Meaning::MailboxDisabled)) std::abort();
    }
}

bool same(const Reply& a, const Reply& b) {
    bool enhanced_same =
        a.enhanced.has_value() == b.enhanced.has_value() && (!a.enhanced || *a.enhanced == *b.enhanced);
    return a.code == b.code && enhanced_same && a.text == b.text && a.lines == b.lines;
}

void drain(ReplyReader& reader, std::vector<Reply>& out) {
    while (reader.has_reply()) out.push_back(reader.take());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::uint32_t seed = data[0] | 1u;
    std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

    // Reference: the whole stream in one read, replies taken only at the end.
    ReplyReader whole;
    whole.feed(stream);
    std::vector<Reply> expected;
    drain(whole, expected);

    // Same stream in pseudo-random reads of 1..16 bytes, replies taken as
    // they come (as the session does).
    ReplyReader chunked;
    std::vector<Reply> got;
    std::size_t pos = 0;
    while (pos < stream.size()) {
        seed = seed * 1103515245u + 12345u;
        std::size_t n = 1 + (seed >> 16) % 16;
        if (n > stream.size() - pos) n = stream.size() - pos;
        ReplyReader::State state = chunked.feed(stream.substr(pos, n));
        pos += n;
        if (state == ReplyReader::State::Failed && !chunked.failed()) std::abort();
        // At most one reply's lines (each with CRLF) plus one unfinished line.
        if (chunked.pending_bytes() > (ReplyReader::kMaxLineBytes + 2) * (ReplyReader::kMaxLines + 1)) std::abort();
        drain(chunked, got);
        if (chunked.failed()) break;
    }

    for (const Reply& r : got) check_reply(r);

    // The reference may have given up early only because nobody took its
    // replies; otherwise both readers must agree on everything.
    bool whole_hit_queue_limit = whole.failed() && whole.error() == "too many replies left unread";
    if (!whole_hit_queue_limit) {
        if (whole.failed() != chunked.failed()) std::abort();
        if (whole.failed() && whole.error() != chunked.error()) std::abort();
        if (expected.size() != got.size()) std::abort();
        for (std::size_t i = 0; i < got.size(); ++i)
            if (!same(expected[i], got[i])) std::abort();
    }
    return 0;
}
