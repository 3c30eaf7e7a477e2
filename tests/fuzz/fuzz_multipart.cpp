// libFuzzer target: MIME multipart framing (RFC 2046 §5.1.1, RFC 2387) and
// the list NOTIFY body on top of it (RFC 4662 §5). The first line of the
// input (up to the first LF, at most kMaxTypeBytes) is the Content-Type
// value, the rest is the body, so seeds read like a NOTIFY's tail.
// Seeds: tests/fuzz/corpus/multipart/. Must never crash, leak or hang.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "presence/multipart.hpp"
#include "presence/rlmi.hpp"

namespace {

constexpr size_t kMaxTypeBytes = 512;

// Every part: headers, media type, Content-ID lookups, nested parsing.
void walk(const presenced::presence::MultipartBody& body) {
    using namespace presenced::presence;
    (void)root(body.parts, body.start);
    for (const auto& part : body.parts) {
        (void)part.media_type();
        (void)part.header("Content-Length");
        (void)find_by_cid(body.parts, part.content_id);
        (void)cid_matches("cid:" + part.content_id, part.content_id);
        if (part.is_multipart()) {
            auto nested = parse_nested_multipart(body, part);
            if (nested) walk(*nested);
        }
    }
}

void walk_list(const presenced::presence::ListNotify& notify) {
    using namespace presenced::presence;
    for (const auto& entry : notify.entries) {
        (void)instance_state_name(entry.instance.state);
        if (entry.nested) {
            auto nested = parse_nested_list(notify, entry);
            if (nested) walk_list(*nested);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace presenced::presence;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t split = input.find('\n');
    if (split == std::string_view::npos || split > kMaxTypeBytes) split = std::min(input.size(), kMaxTypeBytes);
    std::string_view content_type = input.substr(0, split);
    if (!content_type.empty() && content_type.back() == '\r') content_type.remove_suffix(1);
    const std::string_view body = input.substr(std::min(input.size(), split + 1));

    (void)parse_media_type(content_type);
    (void)normalise_cid(content_type);
    auto parsed = parse_multipart(content_type, body);
    if (parsed) walk(*parsed);
    auto notify = parse_list_notify(content_type, body);
    if (notify) walk_list(*notify);

    // Tight limits reach the limit paths with small inputs.
    ListLimits tight;
    tight.multipart.max_parts = 3;
    tight.multipart.max_part_bytes = 64;
    tight.multipart.max_headers = 3;
    tight.multipart.max_header_bytes = 128;
    tight.rlmi.max_resources = 2;
    tight.rlmi.max_instances = 1;
    tight.rlmi.max_uri = 16;
    auto small = parse_list_notify(content_type, body, tight);
    if (small) walk_list(*small);
    return 0;
}
