// PIDF and dialog-info bodies; see bodies.hpp.
#include "bodies.hpp"

#include <charconv>

namespace loadgen {
namespace {

void append_number(std::string& out, uint64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, static_cast<size_t>(r.ptr - buf));
}

void append_stamp_or(std::string& out, uint64_t stamp, std::string_view otherwise) {
    if (stamp == 0) {
        out.append(otherwise);
        return;
    }
    out.append(kStampPrefix);
    append_number(out, stamp);
}

// The user part of the entity (sip:alice@example.com -> alice), for names.
std::string_view user_of(std::string_view entity) {
    const size_t colon = entity.find(':');
    std::string_view rest = colon == std::string_view::npos ? entity : entity.substr(colon + 1);
    return rest.substr(0, rest.find('@'));
}

}  // namespace

void append_pidf(std::string& out, std::string_view entity, Shown shown, uint64_t stamp, std::string_view timestamp) {
    out.append(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
        "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"");
    out.append(entity);
    out.append(
        "\">\r\n"
        "<tuple id=\"t-pc\"><status><basic>open</basic></status><contact priority=\"0.8\">");
    out.append(entity);
    out.append("</contact><timestamp>");
    out.append(timestamp);
    out.append("</timestamp></tuple>\r\n<dm:person id=\"p-1\"><rpid:activities>");
    // RFC 4480 §3.2: "unknown" is an activity that says nothing, so the state
    // reads as available from the open basic status.
    out.append(shown == Shown::away ? "<rpid:on-the-phone/><rpid:meeting/>" : "<rpid:unknown/>");
    out.append("</rpid:activities><rpid:mood>");
    out.append(shown == Shown::away ? "<rpid:stressed/>" : "<rpid:happy/>");
    out.append("</rpid:mood><rpid:place-type><rpid:office/></rpid:place-type><dm:note>");
    append_stamp_or(out, stamp, "Working from home");
    out.append("</dm:note><dm:timestamp>");
    out.append(timestamp);
    out.append("</dm:timestamp></dm:person>\r\n");
    // RFC 4479 §3.3: the device the person uses; "active" input is not idle.
    out.append("<dm:device id=\"d-1\"><rpid:user-input>active</rpid:user-input><dm:deviceID>urn:uuid:");
    out.append("6f1c2e4a-8d3b-4c1e-9a7f-2b5d8e0c4a91</dm:deviceID></dm:device>\r\n</presence>\r\n");
}

void append_dialog_info(std::string& out, std::string_view entity, Shown shown, uint32_t version, uint64_t stamp) {
    out.append(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
        "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"");
    append_number(out, version);
    out.append("\" state=\"full\" entity=\"");
    out.append(entity);
    out.append("\">\r\n");
    if (shown == Shown::initial) {
        // No dialog at all: the line is idle (RFC 4235 §4.1).
        out.append("</dialog-info>\r\n");
        return;
    }
    const bool ringing = shown == Shown::back;
    out.append("<dialog id=\"lg-d1\" call-id=\"lg-call-");
    append_number(out, version);
    out.append("@127.0.0.1\" local-tag=\"lg-lt\" remote-tag=\"lg-rt\" direction=\"");
    out.append(ringing ? "recipient\"><state event=\"remote\">early</state>"
                       : "recipient\"><state event=\"remote\" code=\"200\">confirmed</state>");
    out.append("<duration>12</duration>\r\n<local><identity display=\"");
    out.append(user_of(entity));
    out.append("\">");
    out.append(entity);
    out.append("</identity><target uri=\"");
    out.append(entity);
    out.append("\"><param pname=\"+sip.rendering\" pvalue=\"yes\"/></target></local>\r\n<remote><identity display=\"");
    append_stamp_or(out, ringing ? stamp : 0, "Caller");
    out.append("\">sip:caller@127.0.0.1</identity><target uri=\"sip:caller@127.0.0.1\"/></remote>\r\n");
    out.append("</dialog>\r\n</dialog-info>\r\n");
}

bool carries_stamp(bool dialog_info, Shown shown) {
    if (shown == Shown::initial) return false;
    return !dialog_info || shown == Shown::back;
}

}  // namespace loadgen
