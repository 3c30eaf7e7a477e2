// Resource list meta-information (RFC 4662 §5, application/rlmi+xml) and
// the list NOTIFY body that carries it (a multipart/related body whose root
// part is the RLMI document, RFC 4662 §5 and RFC 2387): pure parsers, no
// subscription state (rfc-checklist 14.4-14.12).
//
// State from a list is keyed by (resource uri, instance id), never by a
// Content-ID: servers draw new Content-IDs for every NOTIFY
// (rfc-checklist 14.10), so a cid is only good for finding a part inside
// the same body, which parse_list_notify already does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "presence/bodies.hpp"
#include "presence/multipart.hpp"
#include "util/error.hpp"

namespace presenced::presence {

inline constexpr std::string_view kRlmiNamespace = "urn:ietf:params:xml:ns:rlmi";
inline constexpr std::string_view kRlmiMediaType = "application/rlmi+xml";

// 10,000 members (issue 7's benchmark size).
inline constexpr size_t kMaxRlmiResources = 10'000;
// Instances per resource: one per back-end subscription (RFC 4662 §5.4);
// servers send one, a few for forked subscriptions.
inline constexpr size_t kMaxRlmiInstances = 16;
// A resource or list URI; longer is hostile, not a SIP URI.
inline constexpr size_t kMaxRlmiUriBytes = 1024;

// The RLMI document itself is larger than one presence document: about
// 150 bytes and up to 3 elements (resource, name, instance) per member.
struct RlmiLimits {
    size_t max_resources = kMaxRlmiResources;
    size_t max_instances = kMaxRlmiInstances;
    size_t max_uri = kMaxRlmiUriBytes;
    BodyLimits xml{.max_bytes = size_t{4} * 1024 * 1024,
                   .max_depth = 32,
                   .max_nodes = 4 * kMaxRlmiResources + 16,
                   .max_text = 4096,
                   .max_entries = kMaxRlmiResources};
};

// Error codes (util::Error::code), besides xml.hpp's ("too_large",
// "malformed", "too_deep", "too_many_nodes", "text_too_long"):
//   "wrong_root"          the root is not {urn:ietf:params:xml:ns:rlmi}list
//   "missing_uri"         <list> or <resource> without a uri
//   "uri_too_long"        a uri longer than max_uri
//   "bad_version"         version absent or not a decimal below 2^32
//   "bad_full_state"      fullState absent or not true|false|1|0
//   "bad_instance"        <instance> without an id, or a state not active|pending|terminated
//   "nested_list"         a <list> inside <list> (RFC 4662 §5.2: nesting goes through a part)
//   "too_many_resources"  more <resource> elements than max_resources
//   "too_many_instances"  more <instance> elements in one resource than max_instances

enum class InstanceState { active, pending, terminated };
std::string_view instance_state_name(InstanceState state);

struct RlmiInstance {
    std::string id;  // with the resource uri, the key for state (RFC 4662 §5.5)
    InstanceState state = InstanceState::active;
    // terminated: the Subscription-State reason token (RFC 6665 §4.1.3:
    // deactivated, probation, rejected, timeout, giveup, noresource,
    // invariant; others as written), lower case; "" when absent.
    std::string reason;
    // The Content-ID of this instance's part in THIS body only; "" when the
    // instance has no part (pending, terminated, or no state yet).
    std::string cid;
};

struct RlmiResource {
    std::string uri;
    std::string name;                     // the first <name>, "" when none
    std::vector<RlmiInstance> instances;  // 0..n: none = no state known yet (Kamailio's first NOTIFY)
};

struct RlmiList {
    std::string uri;
    uint32_t version = 0;
    bool full_state = true;
    std::string name;                     // the first <name> (or a name attribute), "" when none
    std::string cid;                      // the optional cid attribute of <list>
    std::vector<RlmiResource> resources;  // in document order
};

// Unknown elements and attributes, in any namespace, are ignored.
util::Result<RlmiList> parse_rlmi(std::string_view xml, const RlmiLimits& limits = {});

// ---- the list NOTIFY body --------------------------------------------------

struct ListLimits {
    MultipartLimits multipart;
    RlmiLimits rlmi;
};

// One instance of one resource, with the part that carries its state.
struct ListEntry {
    std::string resource_uri;
    std::string resource_name;
    RlmiInstance instance;
    // The part named by instance.cid: an index into ListNotify::multipart.parts,
    // nullopt when the instance has no cid or the cid matches no part.
    std::optional<size_t> part;
    std::string content_type;  // the part's media type, lower case ("application/pidf+xml"), "" without a part
    std::string_view body;     // the part's body (a view into the NOTIFY body), empty without a part
    // "" or the part's refusal: "unsupported_encoding", or "part_too_large"
    // (a package document beyond ListLimits::multipart.max_part_bytes; the
    // RLMI root and nested lists may be as large as an RLMI document).
    // No body to parse then.
    std::string refused;
    // The part is multipart/*: a nested list (RFC 4662 §5), parse it with
    // parse_nested_list; its body is not a package document.
    bool nested = false;
};

struct ListNotify {
    RlmiList list;                   // every resource, including those without instances
    MultipartBody multipart;         // the framing, root part included
    size_t root_part = 0;            // index of the RLMI part in multipart.parts
    std::vector<ListEntry> entries;  // one per instance, in document order
    // Warnings, not errors (servers get these wrong, interop.md §2 item 9):
    size_t unreferenced_parts = 0;  // parts besides the root that no instance names
    size_t missing_parts = 0;       // instance cids that name no part (state unknown, rfc-checklist 14.9)
    size_t duplicate_cids = 0;      // parts whose Content-ID an earlier part already has (the first wins)
    bool start_unmatched = false;   // `start` named no part; the first part was taken as the root
    unsigned depth = 0;             // 0 for the NOTIFY body itself
};

// The whole list NOTIFY body (RFC 4662 §5): content_type is the NOTIFY's
// Content-Type value. Errors: parse_multipart's codes; "bad_content_type"
// when it is not multipart/related; "no_root" when the body has no parts;
// "wrong_root_type" when the root part is not application/rlmi+xml (a part
// without Content-Type reads as the `type` parameter); the root part's
// refusal ("unsupported_encoding"); parse_rlmi's codes. The package parts
// (PIDF, dialog-info) are not parsed here. The result views into body.
util::Result<ListNotify> parse_list_notify(std::string_view content_type, std::string_view body,
                                           const ListLimits& limits = {});

// The nested list behind an entry with nested == true, one level deeper
// ("too_deep" past kMaxMultipartDepth). Views into the same body as parent.
util::Result<ListNotify> parse_nested_list(const ListNotify& parent, const ListEntry& entry,
                                           const ListLimits& limits = {});

}  // namespace presenced::presence
