// libFuzzer target: arbitrary bytes into the RLMI parser (RFC 4662 §5), with
// the default and with tight limits, and the same bytes as the root part of
// a list NOTIFY body so parse_list_notify's reference matching runs on
// whatever resources and cids the input wrote.
// Seeds: tests/fuzz/corpus/rlmi/. Must never crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "presence/rlmi.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace presenced::presence;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    auto list = parse_rlmi(input);
    std::string parts;
    if (list) {
        for (const auto& resource : list->resources) {
            for (const auto& instance : resource.instances) {
                (void)instance_state_name(instance.state);
                (void)normalise_cid(instance.cid);
                // A part for every cid the document names (bounded by the RLMI limits).
                if (!instance.cid.empty() && parts.size() < 64 * 1024)
                    parts += "--fz\r\nContent-Type: application/pidf+xml\r\nContent-ID: <" +
                             normalise_cid(instance.cid) + ">\r\n\r\n<presence/>\r\n";
            }
        }
    }
    RlmiLimits tight;
    tight.max_resources = 2;
    tight.max_instances = 1;
    tight.max_uri = 16;
    tight.xml.max_depth = 4;
    tight.xml.max_nodes = 16;
    tight.xml.max_text = 32;
    (void)parse_rlmi(input, tight);

    const std::string body = "--fz\r\nContent-Type: application/rlmi+xml\r\nContent-ID: <root@fz>\r\n\r\n" +
                             std::string(input) + "\r\n" + parts + "--fz--\r\n";
    auto notify =
        parse_list_notify(R"(multipart/related;type="application/rlmi+xml";start="<root@fz>";boundary=fz)", body);
    if (notify)
        for (const auto& entry : notify->entries) (void)entry.body.size();
    return 0;
}
