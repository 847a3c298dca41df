#include "smtp/reply.h"

#include <utility>

#include "text.h"

namespace ev::smtp {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// One to three digits at s[pos]; a fourth digit makes it no number at all
// (RFC 3463 caps subject and detail at three digits).
bool parse_number(std::string_view s, std::size_t& pos, int& out) {
    std::size_t start = pos;
    int value = 0;
    while (pos < s.size() && pos - start < 3 && is_digit(s[pos])) {
        value = value * 10 + (s[pos] - '0');
        ++pos;
    }
    if (pos == start || (pos < s.size() && is_digit(s[pos]))) return false;
    out = value;
    return true;
}

// The three-digit reply code at the start of a line, or 0.
int parse_reply_code(std::string_view line) {
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) return 0;
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

// The text of one line as it goes into Reply::text: controls become spaces
// (so a stray CR, tab or NUL cannot reach logs or a text column), then the
// ends are trimmed. Bytes >= 0x80 are left alone: servers send Latin-1 too.
std::string clean_line_text(std::string_view body) {
    std::string out(body);
    for (char& c : out) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) c = ' ';
    }
    std::string_view trimmed = text::trim_ascii_whitespace(out);
    return std::string(trimmed);
}

void append_enhanced(std::string& out, const EnhancedCode& e) {
    out += std::to_string(e.klass);
    out += '.';
    out += std::to_string(e.subject);
    out += '.';
    out += std::to_string(e.detail);
}

}  // namespace

std::optional<EnhancedCode> parse_enhanced_code(std::string_view text) {
    if (text.size() < 5) return std::nullopt;  // shortest is "5.1.1"
    char k = text[0];
    if ((k != '2' && k != '4' && k != '5') || text[1] != '.') return std::nullopt;
    EnhancedCode code;
    code.klass = k - '0';
    std::size_t pos = 2;
    if (!parse_number(text, pos, code.subject)) return std::nullopt;
    if (pos >= text.size() || text[pos] != '.') return std::nullopt;
    ++pos;
    if (!parse_number(text, pos, code.detail)) return std::nullopt;
    if (pos < text.size() && text[pos] != ' ') return std::nullopt;
    return code;
}

std::string Reply::summary() const {
    std::string out = std::to_string(code);
    if (enhanced) {
        out += ' ';
        append_enhanced(out, *enhanced);
    }
    if (!text.empty()) {
        out += ' ';
        out += text;
    }
    return out;
}

ReplyReader::State ReplyReader::feed(std::string_view bytes) {
    std::size_t pos = 0;
    while (!failed_ && pos < bytes.size()) {
        std::size_t nl = bytes.find('\n', pos);
        std::string_view piece = bytes.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        // A line may carry one CR before its LF, hence the +1: anything
        // longer is over the limit whether or not the LF ever comes, so the
        // buffer never holds more than one line's worth.
        if (buffer_.size() + piece.size() > kMaxLineBytes + 1) {
            fail("reply line longer than 4096 bytes");
            break;
        }
        if (nl == std::string_view::npos) {
            buffer_.append(piece);
            break;
        }
        pos = nl + 1;
        if (buffer_.empty()) {
            finish_line(piece);  // the common case: no copy
        } else {
            buffer_.append(piece);
            std::string line = std::move(buffer_);
            buffer_.clear();
            finish_line(line);
        }
    }
    if (failed_) return State::Failed;
    return ready_.empty() ? State::NeedMore : State::Ready;
}

void ReplyReader::finish_line(std::string_view line) {
    std::size_t raw_size = line.size() + 1;  // with its LF
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) return fail("reply line longer than 4096 bytes");

    int code = parse_reply_code(line);
    if (code == 0) return fail("reply line does not start with a three-digit code");
    if (code < 200 || code > 599) return fail("reply code outside 2xx-5xx");
    bool last;
    if (line.size() == 3 || line[3] == ' ') {
        last = true;  // "250" alone is a valid last line
    } else if (line[3] == '-') {
        last = false;
    } else {
        return fail("reply code not followed by a space or a hyphen");
    }
    if (partial_lines_ > 0 && code != partial_code_) return fail("reply code changes within a multiline reply");
    if (partial_lines_ >= kMaxLines) return fail("reply longer than 128 lines");

    partial_code_ = code;
    ++partial_lines_;
    partial_bytes_ += raw_size;
    std::string_view body = line.size() > 4 ? line.substr(4) : std::string_view();
    partial_raw_lines_.emplace_back(body);
    append_text(body);
    if (last) complete_reply();
}

// Strips a leading enhanced status code that agrees with the reply class
// (RFC 3463: the class digits must match) and adds the rest to the text.
// Exchange 2003 writes the code as "#5.7.1"; that form is taken too.
void ReplyReader::append_text(std::string_view body) {
    std::string_view rest = body;
    std::string_view candidate = (!rest.empty() && rest[0] == '#') ? rest.substr(1) : rest;
    if (auto code = parse_enhanced_code(candidate); code && code->klass == partial_code_ / 100) {
        if (!partial_enhanced_) partial_enhanced_ = code;
        std::size_t end = candidate.find(' ');
        rest = end == std::string_view::npos ? std::string_view() : candidate.substr(end + 1);
    }
    std::string cleaned = clean_line_text(rest);
    if (cleaned.empty()) return;
    if (!partial_text_.empty()) partial_text_ += ' ';
    partial_text_ += cleaned;
}

void ReplyReader::complete_reply() {
    if (ready_.size() >= kMaxReadyReplies) return fail("too many replies left unread");
    Reply reply;
    reply.code = partial_code_;
    reply.enhanced = partial_enhanced_;
    reply.text = std::move(partial_text_);
    reply.lines = std::move(partial_raw_lines_);
    ready_.push_back(std::move(reply));

    partial_code_ = 0;
    partial_lines_ = 0;
    partial_bytes_ = 0;
    partial_enhanced_.reset();
    partial_text_.clear();
    partial_raw_lines_.clear();
}

// Failing is final: the half-read reply and the buffered bytes are dropped so
// a hostile peer cannot make us hold on to anything. Replies completed before
// the bad line stay available to take().
void ReplyReader::fail(const char* why) {
    failed_ = true;
    error_ = why;
    buffer_.clear();
    buffer_.shrink_to_fit();
    partial_text_.clear();
    partial_raw_lines_.clear();
    partial_lines_ = 0;
    partial_bytes_ = 0;
}

Reply ReplyReader::take() {
    if (ready_.empty()) return Reply{};  // precondition broken; stay harmless
    Reply reply = std::move(ready_.front());
    ready_.pop_front();
    return reply;
}

bool ReplyReader::has_reply() const { return !ready_.empty(); }

bool ReplyReader::failed() const { return failed_; }

const std::string& ReplyReader::error() const { return error_; }

std::size_t ReplyReader::pending_bytes() const { return buffer_.size() + partial_bytes_; }

}  // namespace ev::smtp
