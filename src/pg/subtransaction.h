// Runs C++ code in a subtransaction, the way PL/pgSQL runs a block with an
// EXCEPTION clause: an error rolls back what the code did and comes back as a
// value, so that the caller can go on.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "guard.h"

namespace ev::pg {

// The error a subtransaction ended with.
struct SubtransactionError {
    int sqlerrcode;
    std::string message;
};

// Runs body in a subtransaction: released when body returns, rolled back
// when it throws a PgError, whose code and message are returned. A query
// cancel or a termination is not caught: it must end the statement.
std::optional<SubtransactionError> in_subtransaction(const std::function<void()>& body);

}  // namespace ev::pg
