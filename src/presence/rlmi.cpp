// RLMI (RFC 4662 §5) on the bounded expat tree, and the list NOTIFY body
// that ties it to its multipart/related parts; see rlmi.hpp.
//
// Decisions beyond the RFC text:
// - uri, version and fullState are required on <list> (RFC 4662 §5.2), uri
//   on <resource> (§5.3), id and state on <instance> (§5.5). Attribute
//   values are trimmed; state, reason and fullState compare in lower case
//   (servers differ in case, the schema does not matter to us).
// - A reason on a state other than terminated is kept (harmless).
// - Elements in the RLMI namespace that the RFC does not define, and
//   anything in other namespaces, are ignored.
// - In the NOTIFY body, broken references are warnings (counts), not
//   errors: a part no instance names (Asterisk and Kamailio have sent
//   those), a cid that names no part (that instance's state is unknown),
//   a repeated Content-ID (the first part wins), a `start` that names no
//   part (the first part is the root, as when start is absent).
#include "presence/rlmi.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "presence/xml.hpp"
#include "util/text.hpp"

namespace presenced::presence {
namespace {

std::optional<uint32_t> parse_uint32(std::string_view text) {
    text = util::trim(text);
    if (text.empty() || text.size() > 10) return std::nullopt;
    uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value > UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(value);
}

// xs:boolean lexical forms (RFC 4662's schema types fullState as boolean).
std::optional<bool> parse_boolean(std::string_view text) {
    const std::string value = util::to_lower(util::trim(text));
    if (value == "true" || value == "1") return true;
    if (value == "false" || value == "0") return false;
    return std::nullopt;
}

std::optional<InstanceState> parse_state(std::string_view text) {
    const std::string value = util::to_lower(util::trim(text));
    if (value == "active") return InstanceState::active;
    if (value == "pending") return InstanceState::pending;
    if (value == "terminated") return InstanceState::terminated;
    return std::nullopt;
}

util::Result<std::string> required_uri(const xml::Element& e, const char* what, const RlmiLimits& limits) {
    std::string uri = xml::trimmed(e.attr("uri"));
    if (uri.empty()) return util::make_error("missing_uri", util::cat("<", what, "> has no uri attribute"));
    if (uri.size() > limits.max_uri)
        return util::make_error("uri_too_long", util::cat("a <", what, "> uri is longer than the limit"));
    return uri;
}

// The first <name> child's text, "" when none (RFC 4662 §5.2/§5.3: 0..n, one per language).
std::string first_name(const xml::Element& e) {
    const auto* name = e.first(kRlmiNamespace, "name");
    return name ? xml::trimmed(name->text) : std::string();
}

bool has_nested_list(const xml::Element& e) { return e.first(kRlmiNamespace, "list") != nullptr; }

util::Result<RlmiInstance> read_instance(const xml::Element& e) {
    RlmiInstance instance;
    instance.id = xml::trimmed(e.attr("id"));
    if (instance.id.empty()) return util::make_error("bad_instance", "an <instance> has no id attribute");
    const auto state = parse_state(e.attr("state"));
    if (!state) return util::make_error("bad_instance", "an <instance> state is not active, pending or terminated");
    instance.state = *state;
    instance.reason = util::to_lower(xml::trimmed(e.attr("reason")));
    instance.cid = xml::trimmed(e.attr("cid"));
    return instance;
}

util::Result<RlmiResource> read_resource(const xml::Element& e, const RlmiLimits& limits) {
    if (has_nested_list(e)) return util::make_error("nested_list", "a <list> inside a <resource>");
    auto uri = required_uri(e, "resource", limits);
    if (!uri) return uri.error();
    RlmiResource resource;
    resource.uri = std::move(*uri);
    resource.name = first_name(e);
    const auto instances = e.all(kRlmiNamespace, "instance");
    if (instances.size() > limits.max_instances)
        return util::make_error("too_many_instances", "more <instance> elements in a resource than the limit");
    resource.instances.reserve(instances.size());
    for (const auto* i : instances) {
        auto instance = read_instance(*i);
        if (!instance) return instance.error();
        resource.instances.push_back(std::move(*instance));
    }
    return resource;
}

// The framing admits parts as large as an RLMI document: the root of a
// 10,000-member list is about 450 KB, past the part limit (a full state of
// Kamailio's from about 6,000 members). The package parts are held to
// max_part_bytes one by one in read_list, so one oversized document costs
// its resource's state, not the whole NOTIFY.
MultipartLimits framing_limits(const ListLimits& limits) {
    MultipartLimits framing = limits.multipart;
    framing.max_part_bytes = std::max(framing.max_part_bytes, limits.rlmi.xml.max_bytes);
    return framing;
}

// The RLMI root and its references, once the framing is known (shared by
// the NOTIFY body and nested lists).
util::Result<ListNotify> read_list(MultipartBody multipart, const ListLimits& limits) {
    if (multipart.content_type.subtype != "related")
        return util::make_error("bad_content_type", "a list body must be multipart/related (RFC 4662 §5)");
    if (multipart.parts.empty()) return util::make_error("no_root", "the multipart body has no parts");
    ListNotify out;
    out.depth = multipart.depth;
    const auto& parts = multipart.parts;

    // RFC 2387 §3.2: the root is the part named by start, else the first.
    if (!multipart.start.empty()) {
        const BodyPart* named = root(parts, multipart.start);
        out.start_unmatched = named == nullptr;
        out.root_part = named ? static_cast<size_t>(named - parts.data()) : 0;
    }
    const BodyPart& rlmi_part = parts[out.root_part];
    if (!rlmi_part.refused.empty())
        return util::make_error(rlmi_part.refused, "the RLMI part's Content-Transfer-Encoding is not supported");
    // RFC 2387 §3.1: `type` is the root's type, so it stands in for a missing Content-Type.
    const std::string root_type = util::trim(rlmi_part.content_type).empty() ? multipart.type : rlmi_part.media_type();
    if (root_type != kRlmiMediaType)
        return util::make_error("wrong_root_type", "the root part is " + (root_type.empty() ? "untyped" : root_type) +
                                                       ", not application/rlmi+xml");
    auto list = parse_rlmi(rlmi_part.body, limits.rlmi);
    if (!list) return list.error();
    out.list = std::move(*list);

    // One index for the whole body: instance lookups stay O(1) for large lists.
    std::unordered_map<std::string, size_t> by_cid;
    by_cid.reserve(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) {
        const std::string cid = normalise_cid(parts[i].content_id);
        if (cid.empty()) continue;
        if (!by_cid.emplace(cid, i).second) ++out.duplicate_cids;
    }
    std::vector<bool> referenced(parts.size(), false);
    for (const auto& resource : out.list.resources) {
        for (const auto& instance : resource.instances) {
            ListEntry entry;
            entry.resource_uri = resource.uri;
            entry.resource_name = resource.name;
            entry.instance = instance;
            if (!instance.cid.empty()) {
                const auto found = by_cid.find(normalise_cid(instance.cid));
                if (found == by_cid.end()) {
                    ++out.missing_parts;
                } else {
                    const BodyPart& part = parts[found->second];
                    entry.part = found->second;
                    entry.content_type = part.media_type();
                    entry.body = part.body;
                    entry.refused = part.refused;
                    entry.nested = part.is_multipart();
                    // A nested list's own parts are held to the limit when it is read.
                    if (!entry.nested && entry.refused.empty() && part.body.size() > limits.multipart.max_part_bytes) {
                        entry.refused = "part_too_large";
                        entry.body = {};
                    }
                    referenced[found->second] = true;
                }
            }
            out.entries.push_back(std::move(entry));
        }
    }
    for (size_t i = 0; i < parts.size(); ++i)
        if (i != out.root_part && !referenced[i]) ++out.unreferenced_parts;
    out.multipart = std::move(multipart);
    return out;
}

}  // namespace

std::string_view instance_state_name(InstanceState state) {
    switch (state) {
        case InstanceState::active:
            return "active";
        case InstanceState::pending:
            return "pending";
        case InstanceState::terminated:
            return "terminated";
    }
    return "active";
}

util::Result<RlmiList> parse_rlmi(std::string_view document, const RlmiLimits& limits) {
    auto tree = xml::parse(document, limits.xml);
    if (!tree) return tree.error();
    const xml::Element& root = **tree;
    if (!root.is(kRlmiNamespace, "list"))
        return util::make_error("wrong_root", "the root element is not {" + std::string(kRlmiNamespace) + "}list");
    if (has_nested_list(root))
        return util::make_error("nested_list", "a <list> inside <list>: RFC 4662 §5.2 nests through a body part");

    RlmiList list;
    auto uri = required_uri(root, "list", limits);
    if (!uri) return uri.error();
    list.uri = std::move(*uri);
    const auto version = root.has_attr("version") ? parse_uint32(root.attr("version")) : std::nullopt;
    if (!version) return util::make_error("bad_version", "the list version is absent or not a 32-bit unsigned number");
    list.version = *version;
    const auto full = root.has_attr("fullState") ? parse_boolean(root.attr("fullState")) : std::nullopt;
    if (!full) return util::make_error("bad_full_state", "the list fullState is absent or not true/false");
    list.full_state = *full;
    list.cid = xml::trimmed(root.attr("cid"));
    list.name = first_name(root);
    if (list.name.empty()) list.name = xml::trimmed(root.attr("name"));

    const auto resources = root.all(kRlmiNamespace, "resource");
    if (resources.size() > limits.max_resources)
        return util::make_error("too_many_resources", "more <resource> elements than the limit");
    list.resources.reserve(resources.size());
    for (const auto* r : resources) {
        auto resource = read_resource(*r, limits);
        if (!resource) return resource.error();
        list.resources.push_back(std::move(*resource));
    }
    return list;
}

util::Result<ListNotify> parse_list_notify(std::string_view content_type, std::string_view body,
                                           const ListLimits& limits) {
    auto multipart = parse_multipart(content_type, body, framing_limits(limits));
    if (!multipart) return multipart.error();
    return read_list(std::move(*multipart), limits);
}

util::Result<ListNotify> parse_nested_list(const ListNotify& parent, const ListEntry& entry, const ListLimits& limits) {
    if (!entry.part || !entry.nested || *entry.part >= parent.multipart.parts.size())
        return util::make_error("bad_content_type", "the entry's part is not a nested multipart list");
    auto nested = parse_nested_multipart(parent.multipart, parent.multipart.parts[*entry.part], framing_limits(limits));
    if (!nested) return nested.error();
    return read_list(std::move(*nested), limits);
}

}  // namespace presenced::presence
