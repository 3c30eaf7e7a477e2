// PIDF + data model + RPID parsing (RFC 3863, 4479, 4480) and the PR-1
// reduction to one rich state; see bodies.hpp and rfc-checklist 12.
//
// Decisions worth knowing:
// * Everything is matched by namespace URI and local name, never by prefix
//   (12.9). Unknown elements and attributes are ignored.
// * A <note> is accepted in the PIDF or the data-model namespace wherever a
//   note may stand. Of several notes, the first without xml:lang or with an
//   English one ("en", "en-*") wins, else the first.
// * RPID <activities> and <user-input> are read under a person or device,
//   and also under a tuple or its <status> (RFC 4480 allows both).
// * mustUnderstand="true"/"1" (unqualified or PIDF-qualified attribute) on
//   an element outside the PIDF, data-model and RPID namespaces refuses the
//   document ("must_understand", RFC 3863 §4.1.6, 12.8).
// * RPID from/until (12.18) are kept as written: on the tuple, person or
//   device element itself (Validity) and per <activities> element
//   (bounded_activities). Only the two-argument normalise_rich and
//   valid_at() apply them; the parser has no clock.
// * PR-1 follows 12.20e: a closed basic status beats activities; only the
//   vendor hints of 12.20d (a DND note with "busy", Asterisk's device-state
//   notes, 12.21) tell a closed line from offline.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "presence/bodies.hpp"
#include "presence/xml.hpp"
#include "util/text.hpp"

namespace presenced::presence {
namespace {

constexpr std::string_view kPidf = "urn:ietf:params:xml:ns:pidf";
constexpr std::string_view kDm = "urn:ietf:params:xml:ns:pidf:data-model";
constexpr std::string_view kRpid = "urn:ietf:params:xml:ns:pidf:rpid";
constexpr std::string_view kXml = "http://www.w3.org/XML/1998/namespace";

using xml::Element;

bool known_namespace(std::string_view ns) { return ns == kPidf || ns == kDm || ns == kRpid; }

std::string xml_lang(const Element& e) {
    for (const auto& a : e.attributes)
        if (a.ns == kXml && a.name == "lang") return util::to_lower(util::trim(a.value));
    return {};
}

bool english_or_none(std::string_view lang) {
    return lang.empty() || lang == "en" || (lang.size() > 3 && lang.substr(0, 3) == "en-");
}

// The preferred note among the direct children of e.
std::string pick_note(const Element& e) {
    const Element* first = nullptr;
    for (const auto& c : e.children) {
        if (c->name != "note" || (c->ns != kPidf && c->ns != kDm)) continue;
        if (!first) first = c.get();
        if (english_or_none(xml_lang(*c))) return xml::trimmed(c->text);
    }
    return first ? xml::trimmed(first->text) : std::string{};
}

bool must_understand_set(const Element& e) {
    for (const auto& a : e.attributes) {
        if (a.name != "mustUnderstand" || (!a.ns.empty() && a.ns != kPidf)) continue;
        const auto v = util::trim(a.value);
        if (v == "true" || v == "1") return true;
    }
    return false;
}

// Iterative walk (the tree depth is bounded, but no recursion is needed).
const Element* find_must_understand(const Element& root) {
    std::vector<const Element*> todo{&root};
    while (!todo.empty()) {
        const Element* e = todo.back();
        todo.pop_back();
        if (!known_namespace(e->ns) && must_understand_set(*e)) return e;
        for (const auto& c : e->children) todo.push_back(c.get());
    }
    return nullptr;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

Validity read_validity(const Element& e) { return {xml::trimmed(e.attr("from")), xml::trimmed(e.attr("until"))}; }

bool has_bounds_for(const RichEntry& entry, std::string_view name) {
    return std::any_of(entry.bounded_activities.begin(), entry.bounded_activities.end(),
                       [&](const BoundedActivity& b) { return b.name == name; });
}

// One activity name of an <activities> element with validity v. A name seen
// unbounded once stays unbounded (valid at any time); a name only ever seen
// bounded keeps every bound it came with (valid when any of them is).
void add_activity(RichEntry& entry, std::string name, const Validity& v) {
    const bool seen = contains(entry.activities, name);
    const bool seen_unbounded = seen && !has_bounds_for(entry, name);
    if (v.bounded()) {
        if (!seen_unbounded) entry.bounded_activities.push_back({name, v});
    } else {
        std::erase_if(entry.bounded_activities, [&](const BoundedActivity& b) { return b.name == name; });
    }
    if (!seen) entry.activities.push_back(std::move(name));
}

void read_activities(const Element& holder, RichEntry& entry) {
    for (const Element* acts : holder.all(kRpid, "activities")) {
        const Validity validity = read_validity(*acts);
        for (const auto& a : acts->children) {
            if (a->ns != kRpid) continue;  // extension activities: ignored
            add_activity(entry, a->name == "other" ? "other:" + xml::trimmed(a->text) : a->name, validity);
        }
    }
    for (const Element* ui : holder.all(kRpid, "user-input"))
        if (util::iequals(xml::trimmed(ui->text), "idle")) entry.idle = true;
}

std::string read_timestamp(const Element& e) {
    if (const Element* t = e.first(kPidf, "timestamp")) return xml::trimmed(t->text);
    if (const Element* t = e.first(kDm, "timestamp")) return xml::trimmed(t->text);
    return {};
}

std::string read_device_id(const Element& e) {
    if (const Element* d = e.first(kDm, "deviceID")) return xml::trimmed(d->text);
    return {};
}

RichEntry read_tuple(const Element& t) {
    RichEntry entry;
    entry.kind = RichEntry::Kind::tuple;
    entry.id = t.attr("id");
    entry.validity = read_validity(t);
    if (const Element* status = t.first(kPidf, "status")) {
        if (const Element* basic = status->first(kPidf, "basic")) {
            const std::string v = xml::trimmed(basic->text);
            if (util::iequals(v, "open")) entry.open = true;
            if (util::iequals(v, "closed")) entry.open = false;
        }
        read_activities(*status, entry);
    }
    read_activities(t, entry);
    if (const Element* contact = t.first(kPidf, "contact")) {
        entry.contact = xml::trimmed(contact->text);
        const std::string p = xml::trimmed(contact->attr("priority"));
        if (!p.empty()) {
            char* end = nullptr;
            const double v = std::strtod(p.c_str(), &end);
            if (end && *end == '\0' && std::isfinite(v) && v >= 0.0 && v <= 1.0) entry.contact_priority = v;
        }
    }
    entry.note = pick_note(t);
    entry.timestamp = read_timestamp(t);
    entry.device_id = read_device_id(t);
    return entry;
}

RichEntry read_person_or_device(const Element& e, RichEntry::Kind kind) {
    RichEntry entry;
    entry.kind = kind;
    entry.id = e.attr("id");
    entry.validity = read_validity(e);
    read_activities(e, entry);
    entry.note = pick_note(e);
    entry.timestamp = read_timestamp(e);
    entry.device_id = read_device_id(e);
    return entry;
}

// ---- normalisation helpers ----

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// RFC 3339 date-time to seconds since the epoch (bodies.hpp parse_rfc3339).
std::optional<double> rfc3339_seconds(std::string_view s) {
    auto digits = [&](size_t pos, size_t n, int& out) {
        if (pos + n > s.size()) return false;
        out = 0;
        for (size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            out = out * 10 + (s[i] - '0');
        }
        return true;
    };
    int year, month, day, hour, minute, second;
    if (!digits(0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(5, 2, month) || s[7] != '-' ||
        !digits(8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, hour) || s[13] != ':' ||
        !digits(14, 2, minute) || s[16] != ':' || !digits(17, 2, second))
        return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    size_t pos = 19;
    double fraction = 0;
    if (pos < s.size() && s[pos] == '.') {
        double scale = 0.1;
        size_t start = ++pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            fraction += (s[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start) return std::nullopt;
    }
    int offset = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh, om;
        if (!digits(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(pos + 4, 2, om) || oh > 23 ||
            om > 59)
            return std::nullopt;
        offset = (oh * 60 + om) * 60 * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    const int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    return static_cast<double>(days * 86400 + int64_t{hour} * 3600 + int64_t{minute} * 60 + second - offset) + fraction;
}

// The newest person by timestamp (document order on ties; a person without
// a readable timestamp is older than any with one), or nullptr.
const RichEntry* newest_person(const RichDocument& doc) {
    const RichEntry* best = nullptr;
    std::optional<double> best_time;
    for (const auto& e : doc.entries) {
        if (e.kind != RichEntry::Kind::person) continue;
        const auto t = rfc3339_seconds(e.timestamp);
        if (!best || (t && (!best_time || *t > *best_time))) {
            best = &e;
            best_time = t;
        }
    }
    return best;
}

bool any_of_names(const std::vector<std::string>& acts, std::initializer_list<std::string_view> names) {
    for (auto n : names)
        if (contains(acts, n)) return true;
    return false;
}

bool is_dnd_note(std::string_view note) {
    const auto n = util::trim(note);
    return util::iequals(n, "Do not disturb") || util::iequals(n, "DND");
}

bool is_asterisk_busy_note(std::string_view note) {
    const auto n = util::trim(note);
    return util::iequals(n, "On the phone") || util::iequals(n, "Ringing") || util::iequals(n, "On hold") ||
           util::iequals(n, "Busy");
}

// A note on the presence, a tuple or a person that satisfies pred.
template <class Pred>
bool any_note(const RichDocument& doc, Pred pred) {
    if (pred(doc.note)) return true;
    return std::any_of(doc.entries.begin(), doc.entries.end(),
                       [&](const RichEntry& e) { return e.kind != RichEntry::Kind::device && pred(e.note); });
}

enum class Basic { none, open, closed };  // R of 12.20a

Basic basic_of(const RichDocument& doc) {
    bool any_closed = false;
    for (const auto& e : doc.entries) {
        if (e.kind != RichEntry::Kind::tuple || !e.open) continue;
        if (*e.open) return Basic::open;
        any_closed = true;
    }
    return any_closed ? Basic::closed : Basic::none;
}

}  // namespace

util::Result<RichDocument> parse_pidf(std::string_view document, const BodyLimits& limits) {
    auto tree = xml::parse(document, limits);
    if (!tree) return tree.error();
    const Element& root = **tree;
    if (!root.is(kPidf, "presence"))
        return util::make_error("wrong_root",
                                util::cat("the root element is {", root.ns, "}", root.name, ", not a PIDF <presence>"));
    if (const Element* e = find_must_understand(root))
        return util::make_error("must_understand",
                                util::cat("{", e->ns, "}", e->name, " is marked mustUnderstand and is not understood"));

    RichDocument doc;
    doc.entity = xml::trimmed(root.attr("entity"));
    doc.note = pick_note(root);
    // Exactly as many as there are: the entries stay in memory with the
    // source (model.hpp), and a vector grown 1-2-4 keeps a spare 312-byte
    // slot per subscription and copies on every growth (issue 6 profile).
    const auto is_entry = [](const std::unique_ptr<Element>& c) {
        return c->is(kPidf, "tuple") || c->is(kDm, "person") || c->is(kDm, "device");
    };
    doc.entries.reserve(std::min<size_t>(
        static_cast<size_t>(std::count_if(root.children.begin(), root.children.end(), is_entry)), limits.max_entries));
    for (const auto& c : root.children) {
        const bool tuple = c->is(kPidf, "tuple");
        const bool person = c->is(kDm, "person");
        const bool device = c->is(kDm, "device");
        if (!tuple && !person && !device) continue;
        if (doc.entries.size() >= limits.max_entries)
            return util::make_error("too_many_entries", "more tuples, persons and devices than the limit");
        if (tuple)
            doc.entries.push_back(read_tuple(*c));
        else
            doc.entries.push_back(
                read_person_or_device(*c, person ? RichEntry::Kind::person : RichEntry::Kind::device));
    }
    return doc;
}

RichState normalise_rich(const RichDocument& doc) {
    // Activities and idleness (12.20b): the newest person, else tuples and devices.
    std::vector<std::string> acts;
    bool idle = false;
    if (const RichEntry* person = newest_person(doc)) {
        acts = person->activities;
        idle = person->idle;
    } else {
        for (const auto& e : doc.entries) {
            acts.insert(acts.end(), e.activities.begin(), e.activities.end());
            idle = idle || e.idle;
        }
    }

    if (contains(acts, "permanent-absence")) return RichState::offline;
    const bool dnd = contains(acts, "busy") && any_note(doc, is_dnd_note);
    const Basic basic = basic_of(doc);
    if (basic == Basic::closed) {
        // 12.20e: closed is offline whatever the activities say, except for
        // the vendor hints of 12.20d. Asterisk sends closed for in-use,
        // ringing and on-hold lines too (12.21): its note tells them apart.
        if (dnd) return RichState::dnd;
        if (any_note(doc, is_asterisk_busy_note)) return RichState::busy;
        return RichState::offline;
    }
    if (dnd) return RichState::dnd;
    if (any_of_names(acts, {"on-the-phone", "busy", "meeting", "appointment", "presentation", "performance"}))
        return RichState::busy;
    if (idle || any_of_names(acts, {"away", "vacation", "holiday", "travel", "in-transit", "steering", "sleeping",
                                    "meal", "breakfast", "dinner", "shopping", "playing", "spectator", "tv", "worship",
                                    "looking-for-work"}))
        return RichState::away;
    return basic == Basic::open ? RichState::available : RichState::unknown;
}

std::optional<double> parse_rfc3339(std::string_view text) { return rfc3339_seconds(text); }

bool valid_at(const Validity& validity, std::time_t now) {
    const auto t = static_cast<double>(now);
    const auto skew = static_cast<double>(kValiditySkew);
    if (const auto until = rfc3339_seconds(validity.until); until && *until < t - skew) return false;
    if (const auto from = rfc3339_seconds(validity.from); from && *from > t + skew) return false;
    return true;
}

RichDocument valid_at(const RichDocument& doc, std::time_t now) {
    RichDocument out;
    out.entity = doc.entity;
    out.note = doc.note;
    for (const auto& e : doc.entries) {
        if (!valid_at(e.validity, now)) continue;
        RichEntry copy = e;
        // A bounded name survives when any of its bounds holds at now.
        std::erase_if(copy.activities, [&](const std::string& name) {
            bool bounded = false, valid = false;
            for (const auto& b : e.bounded_activities) {
                if (b.name != name) continue;
                bounded = true;
                valid = valid || valid_at(b.validity, now);
            }
            return bounded && !valid;
        });
        out.entries.push_back(std::move(copy));
    }
    return out;
}

RichState normalise_rich(const RichDocument& doc, std::time_t now) { return normalise_rich(valid_at(doc, now)); }

std::string rich_message(const RichDocument& doc) {
    if (const RichEntry* person = newest_person(doc); person && !person->note.empty()) return person->note;
    for (const auto& e : doc.entries)
        if (e.kind == RichEntry::Kind::person && !e.note.empty()) return e.note;
    for (const auto& e : doc.entries)
        if (e.kind == RichEntry::Kind::tuple && !e.note.empty()) return e.note;
    return doc.note;
}

}  // namespace presenced::presence
