#include "idna.h"

#include <idn2.h>

#include <cstdlib>
#include <memory>

namespace ev {

IdnaResult domain_to_ascii(std::string_view utf8) {
    IdnaResult result;
    std::string input(utf8);  // libidn2 wants a NUL-terminated string
    char* out = nullptr;
    // Not IDN2_USE_STD3_ASCII_RULES: with it libidn2 silently deletes
    // disallowed characters ("bü_cher" -> "bücher"). Without it they survive
    // into the output, where the caller's host-name check refuses them.
    int rc = idn2_to_ascii_8z(input.c_str(), &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    std::unique_ptr<char, decltype(&std::free)> owned(out, &std::free);
    if (rc != IDN2_OK) {
        result.error = idn2_strerror(rc);
        return result;
    }
    result.ok = true;
    result.ascii = owned.get();
    return result;
}

}  // namespace ev
