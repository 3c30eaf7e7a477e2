// A comparison key for SIP URIs (RFC 3261 §19.1.4), so that URIs from the
// configuration and URIs a server writes (RLMI resource uris, RFC 4662
// §5.3) can be matched through a hash map instead of byte for byte.
//
// Two URIs with the same key are equivalent under §19.1.4 as far as a key
// can say it:
//   - scheme, host and parameter names compare case-insensitively; user
//     and password case-sensitively, after %HH escapes are decoded;
//   - a port present in one and absent in the other differs (5060 is not
//     the same as nothing);
//   - the user, ttl, method, maddr and transport parameters must match
//     when either URI has them (values of transport, method, user, maddr
//     compared case-insensitively);
//   - other parameters are left out of the key: §19.1.4 compares them
//     only when both URIs carry them, which a key cannot express, so two
//     URIs that differ only there share a key (a looser match, never a
//     stricter one);
//   - headers (?...) are left out too: neither side carries them here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace presenced::sip {

// nullopt when uri is not "sip:" / "sips:" with a host.
std::optional<std::string> uri_key(std::string_view uri);

// uri_key(a) == uri_key(b), both valid.
bool uri_equivalent(std::string_view a, std::string_view b);

}  // namespace presenced::sip
