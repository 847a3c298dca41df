// SMTP replies (RFC 5321 section 4.2) as the probe client reads them: the
// three-digit code, the RFC 3463 enhanced status code when the server sends
// one, and the text of all lines joined.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ev::smtp {

// class.subject.detail, e.g. 5.1.1.
struct EnhancedCode {
    int klass = 0;    // 2, 4 or 5
    int subject = 0;  // 0-999
    int detail = 0;   // 0-999
    bool operator==(const EnhancedCode& o) const {
        return klass == o.klass && subject == o.subject && detail == o.detail;
    }
};

struct Reply {
    int code = 0;                          // 200-599
    std::optional<EnhancedCode> enhanced;  // from the first line that carries one
    // Every line's text after the code (and after the enhanced code, when the
    // line starts with one), joined by single spaces and trimmed. Control
    // characters are replaced by spaces; non-UTF-8 bytes are kept as given.
    std::string text;
    // Each line's text after "250-" / "250 ", as sent (EHLO keywords live here).
    std::vector<std::string> lines;

    int klass() const { return code / 100; }  // 2, 3, 4 or 5
    // "550 5.1.1 text" form: the code, the enhanced code if any, the text.
    std::string summary() const;
};

// Incremental reader: feed it bytes as they arrive, take complete replies.
// Tolerates bare LF line ends, and a final line without text ("250").
// A reply that breaks the grammar (no code, codes that differ between lines,
// a line longer than kMaxLineBytes, more than kMaxLines lines) makes the
// reader fail for good: the connection is then not worth talking to.
// Replies completed before the bad line can still be taken.
class ReplyReader {
  public:
    static constexpr std::size_t kMaxLineBytes = 4096;
    static constexpr std::size_t kMaxLines = 128;

    enum class State { NeedMore, Ready, Failed };

    // Appends bytes. Returns Ready when at least one complete reply is waiting.
    State feed(std::string_view bytes);
    // The oldest complete reply; precondition: has_reply().
    Reply take();
    bool has_reply() const;
    bool failed() const;
    const std::string& error() const;  // why it failed, for logs
    // Bytes received but not yet part of a complete reply (for STARTTLS:
    // a server must not send anything after its 220 before the handshake).
    std::size_t pending_bytes() const;

  private:
    // Complete replies nobody has taken yet; more means the caller stopped
    // reading while the server kept talking (we never pipeline that deep).
    static constexpr std::size_t kMaxReadyReplies = 256;

    void finish_line(std::string_view line);
    void append_text(std::string_view body);
    void complete_reply();
    void fail(const char* why);

    std::string buffer_;  // bytes after the last complete line
    int partial_code_ = 0;
    std::size_t partial_lines_ = 0;
    std::size_t partial_bytes_ = 0;  // raw bytes of the lines in partial_raw_lines_
    std::optional<EnhancedCode> partial_enhanced_;
    std::string partial_text_;
    std::vector<std::string> partial_raw_lines_;
    std::deque<Reply> ready_;
    std::string error_;
    bool failed_ = false;
};

// Parses "X.Y.Z" at the start of text (followed by a space or end).
std::optional<EnhancedCode> parse_enhanced_code(std::string_view text);

}  // namespace ev::smtp
