// Golden presence bodies: every tests/golden/bodies/NAME.pidf.xml and
// NAME.dialog.xml is parsed and its formatted result must equal
// NAME.pidf.expected / NAME.dialog.expected byte for byte.
//
// Regenerate on purpose with PRESENCED_UPDATE_GOLDEN=1 (writes the
// .expected files instead of comparing), then review the diff:
//   PRESENCED_UPDATE_GOLDEN=1 ./build/bin/bodies_tests "[golden]"
//
// Each TEST_CASE says how a parsed document is printed; check_goldens()
// does the reading, comparing and regenerating for both.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "presence/bodies.hpp"

namespace fs = std::filesystem;
using namespace presenced::presence;

namespace {

// Every tests/golden/bodies/*<suffix>.xml through describe, compared with
// the matching .expected file (or written to it under PRESENCED_UPDATE_GOLDEN=1).
void check_goldens(const std::string& suffix, size_t at_least,
                   const std::function<std::string(const std::string&)>& describe) {
    const fs::path dir = fs::path(PROJECT_SOURCE_DIR) / "tests/golden/bodies";
    const char* update_env = std::getenv("PRESENCED_UPDATE_GOLDEN");
    const bool update = update_env && std::string(update_env) == "1";
    const std::string ending = suffix + ".xml";

    std::vector<fs::path> inputs;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > ending.size() && name.ends_with(ending)) inputs.push_back(entry.path());
    }
    std::sort(inputs.begin(), inputs.end());
    REQUIRE(inputs.size() >= at_least);

    for (const auto& input : inputs) {
        const std::string name = input.filename().string();
        const fs::path expected_path = dir / (name.substr(0, name.size() - 4) + ".expected");
        std::ifstream in(input, std::ios::binary);
        std::ostringstream body;
        body << in.rdbuf();
        const std::string out = describe(body.str());

        INFO(input.string());
        if (update) {
            std::ofstream(expected_path, std::ios::binary) << out;
            continue;
        }
        REQUIRE(fs::is_regular_file(expected_path));
        std::ifstream ein(expected_path, std::ios::binary);
        std::ostringstream expected;
        expected << ein.rdbuf();
        CHECK(out == expected.str());
    }
}

const auto quoted = [](const std::string& s) {
    std::string q = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\')
            q += std::string("\\") + c;
        else if (static_cast<unsigned char>(c) < 0x20)
            q += c == '\n' ? std::string("\\n")
                           : std::string("\\x") + "0123456789abcdef"[(c >> 4) & 0xf] + "0123456789abcdef"[c & 0xf];
        else
            q += c;
    }
    return q + "\"";
};

}  // namespace

TEST_CASE("PIDF goldens", "[pidf][golden]") {
    // Output: "error: CODE", or "state:" (normalise_rich without a clock:
    // no from/until filtering), "message:", "entity:", "note:" (presence
    // level) and one line per tuple/person/device; notes are quoted with
    // \ " and control characters escaped; RPID from/until only when given.
    check_goldens(".pidf", 10, [](const std::string& text) {
        std::ostringstream out;
        auto parsed = parse_pidf(text);
        if (!parsed) {
            out << "error: " << parsed.error().code << "\n";
        } else {
            const RichDocument& doc = *parsed;
            out << "state: " << state_name(normalise_rich(doc)) << "\n";
            out << "message: " << rich_message(doc) << "\n";
            out << "entity: " << doc.entity << "\n";
            if (!doc.note.empty()) out << "note: " << quoted(doc.note) << "\n";
            for (const auto& e : doc.entries) {
                out << (e.kind == RichEntry::Kind::tuple    ? "tuple"
                        : e.kind == RichEntry::Kind::person ? "person"
                                                            : "device")
                    << " id=" << e.id << " open=" << (e.open ? (*e.open ? "true" : "false") : "-") << " activities=";
                for (size_t i = 0; i < e.activities.size(); ++i) out << (i ? "," : "") << e.activities[i];
                out << " note=" << quoted(e.note) << " contact=" << e.contact;
                if (e.contact_priority) out << " priority=" << *e.contact_priority;
                if (!e.timestamp.empty()) out << " timestamp=" << e.timestamp;
                if (!e.device_id.empty()) out << " device=" << e.device_id;
                if (e.idle) out << " idle=true";
                if (e.validity.bounded()) out << " from=" << e.validity.from << " until=" << e.validity.until;
                for (const auto& b : e.bounded_activities)
                    out << " bounded=" << b.name << "[" << b.validity.from << "," << b.validity.until << "]";
                out << "\n";
            }
        }

        return out.str();
    });
}

TEST_CASE("dialog-info goldens", "[dialog][golden]") {
    check_goldens(".dialog", 8, [](const std::string& text) {
        std::ostringstream out;
        auto parsed = parse_dialog_info(text);
        if (!parsed) {
            out << "error: " << parsed.error().code << "\n";
        } else {
            const DialogDocument& doc = *parsed;
            out << "entity: " << doc.entity << "\n";
            out << "version: " << doc.version << "\n";
            out << "full: " << (doc.full ? "true" : "false") << "\n";
            out << "state: " << state_name(normalise_telephony(doc.dialogs)) << "\n";
            out << "caller: " << ringing_caller(doc.dialogs) << "\n";
            for (const auto& d : doc.dialogs)
                out << "dialog id=" << d.id << " state=" << d.state << " direction=" << d.direction
                    << " local=" << d.local_identity << " remote=" << d.remote_identity
                    << " rendering=" << d.local_rendering << "\n";
        }

        return out.str();
    });
}
