// Shared by the RFC 4662 body tests (rls_bodies_test.cpp, rls_list_notify_test.cpp):
// the golden .notify reader, the describer of a parsed list NOTIFY, and
// builders of multipart and RLMI text.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "presence/multipart.hpp"
#include "presence/rlmi.hpp"

namespace fs = std::filesystem;
using namespace presenced::presence;

namespace rls_test {

inline const fs::path kGoldenDir = fs::path(PROJECT_SOURCE_DIR) / "tests/golden/bodies/rls";

struct Notify {
    std::string content_type;
    std::string body;
};

// A .notify file: "Content-Type: VALUE" CRLF, CRLF, then the body.
inline std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline Notify read_notify(const fs::path& path) {
    const std::string all = read_file(path);
    const size_t blank = all.find("\r\n\r\n");
    REQUIRE(blank != std::string::npos);
    const std::string header = all.substr(0, blank);
    REQUIRE(header.rfind("Content-Type: ", 0) == 0);
    return {header.substr(14), all.substr(blank + 4)};
}

// The first line of a part body (enough to show which document it is).
inline std::string first_line(std::string_view body) {
    const size_t end = body.find_first_of("\r\n");
    return std::string(body.substr(0, end == std::string_view::npos ? body.size() : end));
}

inline std::string describe(const Notify& n) {
    auto r = parse_list_notify(n.content_type, n.body);
    if (!r) return "error " + r.error().code + "\n";
    std::ostringstream out;
    const auto& l = r->list;
    out << "list " << l.uri << " version=" << l.version << " full=" << (l.full_state ? "true" : "false") << " name=\""
        << l.name << "\" parts=" << r->multipart.parts.size() << " root=" << r->root_part << "\n";
    for (const auto& res : l.resources)
        out << "resource " << res.uri << " name=\"" << res.name << "\" instances=" << res.instances.size() << "\n";
    for (const auto& e : r->entries) {
        out << "entry " << e.resource_uri << " id=" << e.instance.id
            << " state=" << instance_state_name(e.instance.state) << " reason=\"" << e.instance.reason
            << "\" part=" << (e.part ? std::to_string(*e.part) : "none") << " type=\"" << e.content_type
            << "\" bytes=" << e.body.size() << " nested=" << e.nested << " refused=\"" << e.refused << "\"\n";
        if (!e.body.empty()) out << "  first line: " << first_line(e.body) << "\n";
    }
    out << "warnings unreferenced=" << r->unreferenced_parts << " missing=" << r->missing_parts
        << " duplicate_cids=" << r->duplicate_cids << " start_unmatched=" << r->start_unmatched << "\n";
    return out.str();
}

// A multipart body from parts already serialised as "headers CRLF CRLF body".
inline std::string framed(const std::string& boundary, const std::vector<std::string>& parts,
                          const std::string& eol = "\r\n") {
    std::string out;
    for (const auto& p : parts) out += "--" + boundary + eol + p + eol;
    return out + "--" + boundary + "--" + eol;
}

inline std::string part(const std::string& type, const std::string& cid, const std::string& body) {
    std::string out;
    if (!type.empty()) out += "Content-Type: " + type + "\r\n";
    if (!cid.empty()) out += "Content-ID: " + cid + "\r\n";
    return out + "\r\n" + body;
}

inline std::string rlmi(const std::string& attrs, const std::string& inner) {
    return R"(<list xmlns="urn:ietf:params:xml:ns:rlmi" uri="sip:buddies@example.com" )" + attrs + ">" + inner +
           "</list>";
}

inline std::string resource(const std::string& uri, const std::string& inner) {
    return "<resource uri=\"" + uri + "\">" + inner + "</resource>";
}

inline std::string instance(const std::string& id, const std::string& state, const std::string& cid,
                            const std::string& reason = "") {
    return "<instance id=\"" + id + "\" state=\"" + state + "\"" + (cid.empty() ? "" : " cid=\"" + cid + "\"") +
           (reason.empty() ? "" : " reason=\"" + reason + "\"") + "/>";
}

inline const std::string kPidf = R"(<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@example.com"/>)";
inline const std::string kListType = R"(multipart/related;type="application/rlmi+xml";start="<root@x>";boundary=BB)";

// Parsed bodies view into their input: keep every test input alive for the whole run.
inline const std::string& kept(std::string text) {
    static std::deque<std::string> inputs;
    return inputs.emplace_back(std::move(text));
}

inline MultipartBody framing(const std::string& type, const std::string& text, const MultipartLimits& limits = {}) {
    const std::string& body = kept(text);
    auto r = parse_multipart(type, body, limits);
    INFO(body);
    if (!r) FAIL("parse_multipart: " << r.error().code << ": " << r.error().message);
    return *r;
}

inline std::string framing_error(const std::string& type, const std::string& body, const MultipartLimits& limits = {}) {
    auto r = parse_multipart(type, body, limits);
    return r ? std::string("ok") : r.error().code;
}

inline RlmiList list_of(const std::string& xml) {
    auto r = parse_rlmi(xml);
    INFO(xml);
    if (!r) FAIL("parse_rlmi: " << r.error().code << ": " << r.error().message);
    return *r;
}

inline std::string rlmi_error(const std::string& xml, const RlmiLimits& limits = {}) {
    auto r = parse_rlmi(xml, limits);
    return r ? std::string("ok") : r.error().code;
}

inline ListNotify notify_of(const std::string& type, const std::string& text) {
    const std::string& body = kept(text);
    auto r = parse_list_notify(type, body);
    INFO(body);
    if (!r) FAIL("parse_list_notify: " << r.error().code << ": " << r.error().message);
    return *r;
}

inline std::string notify_error(const std::string& type, const std::string& body) {
    auto r = parse_list_notify(type, body);
    return r ? std::string("ok") : r.error().code;
}

}  // namespace rls_test
