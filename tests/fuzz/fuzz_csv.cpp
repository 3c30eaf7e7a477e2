// libFuzzer target: arbitrary bytes as a users CSV, read without and with
// configured usernames and with tight limits. Must never crash, leak or
// hang, and the result must keep the promises of csv_import.hpp; a broken
// promise aborts so libFuzzer keeps the input.
// Seeds: tests/fuzz/corpus/csv/.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/address.hpp"
#include "presence/csv_import.hpp"
#include "util/text.hpp"

namespace {

using namespace presenced;
using presence::CsvImport;

const std::set<std::string> kCodes = {"bad_header",         "column_count",   "missing_username",   "bad_username",
                                      "duplicate_username", "bad_extension",  "bad_text",           "bad_uri",
                                      "bad_utf8",           "field_too_long", "unterminated_quote", "bad_quote",
                                      "too_large",          "empty"};

void require(bool ok) {
    if (!ok) std::abort();
}

// Every field of every user and error is read, and each must be one the
// parser may return.
void check(const CsvImport& r, const std::vector<std::string>& existing, std::string_view text) {
    const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    int previous = 0;
    size_t whole_file = 0;
    for (const auto& e : r.errors) {
        require(kCodes.count(e.code) == 1);
        require(e.line >= previous && static_cast<size_t>(e.line) <= lines);  // file order
        previous = e.line;
        require(!util::has_control(e.message));  // echoed data is escaped
        if (e.line == 0)
            ++whole_file;
        else
            require(e.message.rfind("line " + std::to_string(e.line) + ": ", 0) == 0);
    }
    // One outcome per data row: a user or an error. The exceptions are
    // the one error about the file or its header (no rows read) and the
    // too_large that ends the import.
    if (r.rows == 0) {
        require(r.users.empty() && r.errors.size() <= 1);
    } else {
        const bool stopped = !r.errors.empty() && r.errors.back().code == "too_large";
        require(whole_file == 0);
        require(r.users.size() + r.errors.size() == r.rows + (stopped ? 1 : 0));
    }
    std::set<std::string> seen;
    for (const auto& u : r.users) {
        require(!u.username.empty() && u.username.size() <= 64);
        require(seen.insert(u.username).second);  // no duplicates kept
        for (const auto& name : existing) require(u.username != name);
        require(!util::has_control(u.display_name) && !util::has_control(u.department));
        std::string why;
        require(u.rich_uri.empty() || config::is_sip_uri(u.rich_uri, why));
        require(u.telephony_uri.empty() || config::is_sip_uri(u.telephony_uri, why));
        (void)u.extension.size();
    }
}

std::string quote(const std::string& field) {
    std::string out = "\"";
    for (char c : field) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// The good users written back as CSV (every field quoted, CRLF) must read
// back the same: quoting and the validity rules agree.
void round_trip(const CsvImport& r) {
    std::string text = "telephony_uri,rich_uri,extension,department,display_name,username\r\n";
    for (const auto& u : r.users)
        text += quote(u.telephony_uri) + "," + quote(u.rich_uri) + "," + quote(u.extension) + "," +
                quote(u.department) + "," + quote(u.display_name) + "," + quote(u.username) + "\r\n";
    const CsvImport again = presence::parse_users_csv(text);
    require(again.errors.empty() && again.users.size() == r.users.size());
    for (size_t i = 0; i < r.users.size(); ++i) {
        const auto &a = r.users[i], &b = again.users[i];
        require(a.username == b.username && a.display_name == b.display_name && a.department == b.department &&
                a.extension == b.extension && a.rich_uri == b.rich_uri && a.telephony_uri == b.telephony_uri);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const CsvImport plain = presence::parse_users_csv(text);
    check(plain, {}, text);
    round_trip(plain);

    // Configured users: the same rows, with those names refused on every
    // occurrence and nothing else changed.
    const std::vector<std::string> existing = {"alice", "bob", "a", "1"};
    const CsvImport with = presence::parse_users_csv(text, existing);
    check(with, existing, text);
    require(with.rows == plain.rows);
    size_t kept = 0;
    for (const auto& u : plain.users) {
        bool configured = false;
        for (const auto& name : existing) configured = configured || u.username == name;
        if (configured) continue;
        require(kept < with.users.size() && with.users[kept].username == u.username);
        ++kept;
    }
    require(kept == with.users.size());

    // Tight limits reach the limit paths with small inputs.
    presence::CsvLimits tight;
    tight.max_bytes = 512;
    tight.max_rows = 3;
    tight.max_field = 12;
    check(presence::parse_users_csv(text, {}, tight), {}, text);
    return 0;
}
