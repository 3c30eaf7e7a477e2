// Transport addresses.
#include "sip/address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace presenced::sip {

std::optional<Address> Address::from_ip(std::string_view ip, uint16_t port) {
    Address a;
    const std::string text(ip);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return a;
    }
    a.storage_ = {};
    if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return a;
    }
    return std::nullopt;
}

Address Address::from_sockaddr(const sockaddr* sa) {
    Address a;
    if (sa->sa_family == AF_INET)
        std::memcpy(&a.storage_, sa, sizeof(sockaddr_in));
    else if (sa->sa_family == AF_INET6)
        std::memcpy(&a.storage_, sa, sizeof(sockaddr_in6));
    return a;
}

socklen_t Address::length() const { return is_ipv6() ? sizeof(sockaddr_in6) : sizeof(sockaddr_in); }

std::string Address::ip() const {
    char buf[INET6_ADDRSTRLEN] = "";
    if (family() == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    else if (family() == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf, sizeof buf);
    return buf;
}

uint16_t Address::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return 0;
}

void Address::set_port(uint16_t port) {
    if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
    if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string Address::host_for_uri() const { return is_ipv6() ? "[" + ip() + "]" : ip(); }

std::string Address::str() const { return host_for_uri() + ":" + std::to_string(port()); }

namespace {
// ::ffff:a.b.c.d as a.b.c.d: a dual-stack socket ([::]) sees IPv4 peers this way.
Address unmapped(const Address& a) {
    if (!a.is_ipv6()) return a;
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(a.sockaddr_ptr());
    if (!IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) return a;
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = v6->sin6_port;
    std::memcpy(&v4.sin_addr, &v6->sin6_addr.s6_addr[12], 4);
    return Address::from_sockaddr(reinterpret_cast<const sockaddr*>(&v4));
}
}  // namespace

bool Address::same_ip(const Address& other) const {
    if (family() != other.family()) {
        const Address a = unmapped(*this), b = unmapped(other);
        return a.family() == b.family() && a.same_ip(b);
    }
    const Address& o = other;
    if (family() == AF_INET)
        return reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in*>(&o.storage_)->sin_addr.s_addr;
    if (family() == AF_INET6)
        return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr,
                           &reinterpret_cast<const sockaddr_in6*>(&o.storage_)->sin6_addr, sizeof(in6_addr)) == 0;
    return false;
}

bool Address::operator==(const Address& o) const { return same_ip(o) && port() == o.port(); }

}  // namespace presenced::sip
