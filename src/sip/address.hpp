// A transport address (IPv4 or IPv6 + port) as the sockets see it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace presenced::sip {

class Address {
public:
    Address() = default;
    static std::optional<Address> from_ip(std::string_view ip, uint16_t port);  // "192.0.2.1" or "2001:db8::1"
    static Address from_sockaddr(const sockaddr* sa);

    const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
    socklen_t length() const;
    int family() const { return storage_.ss_family; }
    bool is_ipv6() const { return family() == AF_INET6; }
    bool valid() const { return family() == AF_INET || family() == AF_INET6; }
    std::string ip() const;  // without brackets
    uint16_t port() const;
    void set_port(uint16_t port);
    std::string str() const;  // "ip:port" or "[ip]:port"
    // For a Via sent-by or a URI host: brackets around IPv6.
    std::string host_for_uri() const;

    bool operator==(const Address& o) const;
    bool same_ip(const Address& o) const;

private:
    sockaddr_storage storage_{};
};

}  // namespace presenced::sip
