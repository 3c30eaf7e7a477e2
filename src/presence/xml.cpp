// Bounded element tree on libexpat; see xml.hpp.
#include "presence/xml.hpp"

#include <expat.h>

#include <cstring>

#include "util/random.hpp"
#include "util/text.hpp"

namespace presenced::presence::xml {
namespace {

constexpr XML_Char kNamespaceSeparator = '\x01';
// Namespace URIs looked up among the most recent ones before a new is kept.
constexpr size_t kInternScan = 8;

// Drawn once: expat otherwise calls getrandom() for every document
// (perf-limits.md §2), and a salt still protects its hash tables.
unsigned long hash_salt() {
    static const unsigned long salt = static_cast<unsigned long>(util::random_u64());
    return salt;
}

// One parser per thread, reset between documents: creating and freeing an
// expat parser per NOTIFY costs about a tenth of the body's parse
// (perf-limits.md §2; bench/store_bench). XML_ParserReset keeps the
// namespace mode but clears the handlers and the salt, so parse() sets them
// again every time.
class ReusedParser {
public:
    ReusedParser() : parser_(XML_ParserCreateNS(nullptr, kNamespaceSeparator)) {}
    ~ReusedParser() {
        if (parser_) XML_ParserFree(parser_);
    }
    ReusedParser(const ReusedParser&) = delete;
    ReusedParser& operator=(const ReusedParser&) = delete;
    // A parser ready for a new document, or nullptr when expat has no memory.
    XML_Parser fresh() {
        if (parser_ && used_ && XML_ParserReset(parser_, nullptr) != XML_TRUE) {
            XML_ParserFree(parser_);
            parser_ = XML_ParserCreateNS(nullptr, kNamespaceSeparator);
        }
        if (!parser_) parser_ = XML_ParserCreateNS(nullptr, kNamespaceSeparator);
        used_ = parser_ != nullptr;
        return parser_;
    }

private:
    XML_Parser parser_;
    bool used_ = false;
};

struct Builder {
    const BodyLimits& limits;
    std::unique_ptr<Element> root;
    std::vector<Element*> stack;
    size_t nodes = 0;
    util::Error error{"", ""};
    XML_Parser parser = nullptr;
    std::unique_ptr<std::deque<std::string>> namespaces = std::make_unique<std::deque<std::string>>();

    void fail(const char* code, std::string message) {
        if (error.code.empty()) error = util::make_error(code, std::move(message));
        XML_StopParser(parser, XML_FALSE);
    }

    // The pool never moves its strings (a deque grows at the end); only the
    // last few are searched, so a hostile document with thousands of
    // namespaces costs one string per element, as before, not a quadratic scan.
    std::string_view intern(std::string_view ns) {
        if (ns.empty()) return {};
        const size_t n = namespaces->size();
        for (size_t i = n; i > 0 && n - i < kInternScan; --i)
            if ((*namespaces)[i - 1] == ns) return (*namespaces)[i - 1];
        return namespaces->emplace_back(ns);
    }

    void split(const XML_Char* qualified, std::string_view& ns, std::string& local) {
        const char* sep = std::strchr(qualified, kNamespaceSeparator);
        if (sep) {
            ns = intern(std::string_view(qualified, static_cast<size_t>(sep - qualified)));
            local.assign(sep + 1);
        } else {
            ns = {};
            local.assign(qualified);
        }
    }

    static void on_start(void* data, const XML_Char* name, const XML_Char** attrs) {
        auto* b = static_cast<Builder*>(data);
        if (++b->nodes > b->limits.max_nodes) return b->fail("too_many_nodes", "more elements than the limit");
        if (b->stack.size() + 1 > b->limits.max_depth)
            return b->fail("too_deep", "elements nested deeper than the limit");
        auto element = std::make_unique<Element>();
        b->split(name, element->ns, element->name);
        for (size_t i = 0; attrs[i]; i += 2) {
            Attribute a;
            b->split(attrs[i], a.ns, a.name);
            a.value = attrs[i + 1];
            if (a.value.size() > b->limits.max_text) return b->fail("text_too_long", "an attribute value is too long");
            element->attributes.push_back(std::move(a));
        }
        Element* raw = element.get();
        if (b->stack.empty())
            b->root = std::move(element);
        else
            b->stack.back()->children.push_back(std::move(element));
        b->stack.push_back(raw);
    }

    static void on_end(void* data, const XML_Char*) {
        auto* b = static_cast<Builder*>(data);
        if (!b->stack.empty()) b->stack.pop_back();
    }

    static void on_text(void* data, const XML_Char* s, int len) {
        auto* b = static_cast<Builder*>(data);
        if (b->stack.empty() || len <= 0) return;
        std::string& text = b->stack.back()->text;
        // Whitespace between child elements means nothing in these formats;
        // kept under the limit, never an error: a 10,000-resource RLMI list
        // indented one resource per line holds 30 KB of it in one element.
        const std::string_view chunk(s, static_cast<size_t>(len));
        const bool blank = chunk.find_first_not_of(" \t\r\n") == std::string_view::npos;
        if (blank && (!b->stack.back()->children.empty() || text.size() + chunk.size() > b->limits.max_text)) return;
        if (text.size() + static_cast<size_t>(len) > b->limits.max_text)
            return b->fail("text_too_long", "a text node is too long");
        text.append(s, static_cast<size_t>(len));
    }

    // No DTDs at all: a DOCTYPE is how entity bombs and XXE arrive.
    static void on_doctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
        static_cast<Builder*>(data)->fail("malformed", "a DOCTYPE is not allowed in a presence document");
    }
    static void on_entity(void* data, const XML_Char*, int, const XML_Char*, int, const XML_Char*, const XML_Char*,
                          const XML_Char*, const XML_Char*) {
        static_cast<Builder*>(data)->fail("malformed", "entity declarations are not allowed");
    }
};

}  // namespace

const std::string& Element::attr(std::string_view local) const {
    static const std::string empty;
    for (const auto& a : attributes)
        if (a.ns.empty() && a.name == local) return a.value;
    return empty;
}

bool Element::has_attr(std::string_view local) const {
    for (const auto& a : attributes)
        if (a.ns.empty() && a.name == local) return true;
    return false;
}

std::vector<const Element*> Element::all(std::string_view ns_uri, std::string_view local) const {
    std::vector<const Element*> out;
    for (const auto& c : children)
        if (c->is(ns_uri, local)) out.push_back(c.get());
    return out;
}

const Element* Element::first(std::string_view ns_uri, std::string_view local) const {
    for (const auto& c : children)
        if (c->is(ns_uri, local)) return c.get();
    return nullptr;
}

std::string trimmed(std::string_view text) { return std::string(util::trim(text)); }

util::Result<std::unique_ptr<Element>> parse(std::string_view document, const BodyLimits& limits) {
    if (document.size() > limits.max_bytes)
        return util::make_error("too_large", "the document is larger than the limit");
    Builder b{limits, nullptr, {}, 0, {"", ""}, nullptr};  // namespaces: its own pool
    thread_local ReusedParser reused;
    XML_Parser parser = reused.fresh();
    if (!parser) return util::make_error("malformed", "cannot create an XML parser");
    b.parser = parser;
    XML_SetHashSalt(parser, hash_salt());
    XML_SetUserData(parser, &b);
    XML_SetElementHandler(parser, Builder::on_start, Builder::on_end);
    XML_SetCharacterDataHandler(parser, Builder::on_text);
    XML_SetStartDoctypeDeclHandler(parser, Builder::on_doctype);
    XML_SetEntityDeclHandler(parser, Builder::on_entity);
    XML_SetParamEntityParsing(parser, XML_PARAM_ENTITY_PARSING_NEVER);
    const auto status = XML_Parse(parser, document.data(), static_cast<int>(document.size()), XML_TRUE);
    std::string expat_error;
    if (status != XML_STATUS_OK && b.error.code.empty())
        expat_error =
            util::cat("line ", XML_GetCurrentLineNumber(parser), ": ", XML_ErrorString(XML_GetErrorCode(parser)));
    if (!b.error.code.empty()) return b.error;
    if (!expat_error.empty()) return util::make_error("malformed", expat_error);
    if (!b.root) return util::make_error("malformed", "no root element");
    b.root->namespaces = std::move(b.namespaces);  // the views stay valid: the strings do not move
    return std::move(b.root);
}

}  // namespace presenced::presence::xml
