// A small, bounded XML element tree on libexpat for presence bodies:
// namespace-aware (elements and attributes carry their namespace URI, never
// a prefix), no DTD, no entities (XXE and billion-laughs are refused), and
// limits on size, depth, node count and text length.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "presence/bodies.hpp"

namespace presenced::presence::xml {

// Namespace URIs are views into the document's own pool, kept by the root
// element: a document names a handful of namespaces on every element, and a
// string per element was a third of the tree's allocations (issue 6). An
// element is valid while the root returned by parse() lives.
struct Attribute {
    std::string_view ns;  // "" for unprefixed attributes (they have no namespace)
    std::string name;
    std::string value;
};

struct Element {
    std::string_view ns;  // namespace URI, "" when none
    std::string name;     // local name
    std::vector<Attribute> attributes;
    std::string text;  // character data directly inside, concatenated
    std::vector<std::unique_ptr<Element>> children;
    std::unique_ptr<std::deque<std::string>> namespaces;  // the root only: what ns views point into

    // The first attribute with this local name and no namespace, else "".
    const std::string& attr(std::string_view local) const;
    bool has_attr(std::string_view local) const;
    // Children with this namespace and local name, in document order.
    std::vector<const Element*> all(std::string_view ns_uri, std::string_view local) const;
    const Element* first(std::string_view ns_uri, std::string_view local) const;
    bool is(std::string_view ns_uri, std::string_view local) const { return ns == ns_uri && name == local; }
};

// Parses a whole document. Errors as in bodies.hpp ("too_large",
// "malformed", "too_deep", "too_many_nodes", "text_too_long").
util::Result<std::unique_ptr<Element>> parse(std::string_view document, const BodyLimits& limits);

// Whitespace trimmed (XML text around elements carries indentation).
std::string trimmed(std::string_view text);

}  // namespace presenced::presence::xml
