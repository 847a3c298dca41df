// The client side of a SOCKS5 handshake (RFC 1928, with RFC 1929
// username/password authentication), without I/O: the session writes what
// output() gives, feeds what it reads, and once connected() hands the bytes
// that came after the proxy's reply (the SMTP server's first words, when
// they arrive in the same segment) to its SMTP reader.
//
//   greeting    -> VER 5, the methods we offer (no auth; user/password when set)
//   method      <- VER 5, the method chosen (0xFF: none acceptable)
//   auth        -> VER 1, ULEN, UNAME, PLEN, PASSWD   (only for method 2)
//   auth reply  <- VER 1, STATUS (0: success)
//   CONNECT     -> VER 5, CMD 1, RSV, ATYP 1|4, DST.ADDR, DST.PORT
//   reply       <- VER 5, REP, RSV, ATYP 1|3|4, BND.ADDR, BND.PORT
//
// Errors name the step and the proxy's answer in words; none carries the
// password.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/socket.h"
#include "net/socks5_url.h"

namespace ev::net {

// RFC 1928 section 6's REP field in words ("connection refused"), and
// "unassigned reply code N" beyond 8.
std::string socks5_reply_text(int code);

struct Socks5Reply {
    int code = -1;         // REP
    std::string bound;     // BND.ADDR:BND.PORT as text ("[::1]:1080", "proxy.example:0")
    std::size_t size = 0;  // bytes the reply took
};

enum class Socks5Parse { NeedMore, Complete, Invalid };

// Reads a CONNECT reply from the start of `bytes`. Invalid sets `error`.
Socks5Parse parse_socks5_reply(std::string_view bytes, Socks5Reply* reply, std::string* error);

class Socks5Handshake {
  public:
    enum class State { Greeting, Authenticating, Connecting, Connected, Failed };

    Socks5Handshake(const Socks5Proxy& proxy, const Endpoint& target);

    // What to send now (empty when waiting); each call hands it over once.
    std::string take_output();
    // Bytes from the proxy. Moves to Connected or Failed when a step ends.
    State feed(std::string_view bytes);
    // The proxy closed the connection: Failed, with what was known so far.
    void closed();

    State state() const { return state_; }
    bool connected() const { return state_ == State::Connected; }
    bool failed() const { return state_ == State::Failed; }
    // Why it failed, in words, e.g. "authentication refused (wrong user
    // name or password?)" or "could not connect: connection refused (reply 5)".
    const std::string& error() const { return error_; }
    // Where the handshake is, for a timeout's message: "waiting for the
    // proxy's greeting reply", ...
    std::string waiting_for() const;
    // After Connected: bytes received past the proxy's reply.
    std::string take_leftover();
    const std::string& bound() const { return bound_; }

  private:
    void fail(std::string why);
    void on_method(std::uint8_t method);
    void send_connect();

    std::string username_;
    std::string password_;
    Endpoint target_;
    State state_ = State::Greeting;
    std::string in_;
    std::string out_;
    std::string error_;
    std::string bound_;
};

}  // namespace ev::net
