// Users from CSV (RFC 4180): a tokenizer that keeps line numbers and the
// first problem of each record, then per-row checks with the rules the
// config applies to [[user]] tables (config/validate.cpp).
#include "presence/csv_import.hpp"

#include <array>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "config/address.hpp"
#include "util/text.hpp"

namespace presenced::presence {
namespace {

using util::cat;

// The config's [[user]] rules. Its regexes (kUsername, kExtension) and text
// limit are file-local in config/validate.cpp, so the same character classes
// and lengths are replicated here; keep the two in step.
constexpr size_t kMaxUsernameLength = 64;   // [A-Za-z0-9._@+-]{1,64}
constexpr size_t kMaxExtensionLength = 32;  // [A-Za-z0-9*#+._-]{1,32}
constexpr size_t kMaxTextLength = 256;      // display_name, department

// The UTF-8 byte order mark spreadsheet programs write first (RFC 3629 section 6).
constexpr std::string_view kBom = "\xEF\xBB\xBF";

enum class Column { username, display_name, department, extension, rich_uri, telephony_uri };
constexpr std::array<std::string_view, 6> kColumnNames = {"username",  "display_name", "department",
                                                          "extension", "rich_uri",     "telephony_uri"};
constexpr std::string_view kHeaderRequired = "a header row naming the columns is required";
constexpr std::string_view kColumnList = "username, display_name, department, extension, rich_uri and telephony_uri";

std::string quoted(std::string_view s) { return cat('"', util::escape_control(s), '"'); }

std::string count_of(size_t n, std::string_view noun) { return cat(n, ' ', noun, n == 1 ? "" : "s"); }

// RFC 3629 section 4: the well-formed sequences. Refused: stray continuation
// bytes, overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF),
// code points above U+10FFFF (F4 90-BF, F5-FF) and truncated sequences.
bool valid_utf8(std::string_view s) {
    constexpr unsigned char kAsciiEnd = 0x80, kContinuationLow = 0x80, kContinuationHigh = 0xBF;
    size_t i = 0;
    while (i < s.size()) {
        const auto lead = static_cast<unsigned char>(s[i]);
        if (lead < kAsciiEnd) {
            ++i;
            continue;
        }
        size_t length = 0;
        unsigned char low = kContinuationLow, high = kContinuationHigh;  // range of the second byte
        if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3;
            if (lead == 0xE0) low = 0xA0;   // overlong below U+0800
            if (lead == 0xED) high = 0x9F;  // surrogates U+D800-DFFF
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4;
            if (lead == 0xF0) low = 0x90;   // overlong below U+10000
            if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
        } else {
            return false;
        }
        if (s.size() - i < length) return false;
        for (size_t k = 1; k < length; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if (c < (k == 1 ? low : kContinuationLow) || c > (k == 1 ? high : kContinuationHigh)) return false;
        }
        i += length;
    }
    return true;
}

// ASCII only, whatever the locale says std::isalnum is.
bool ascii_alnum(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool username_char(unsigned char c) {
    return ascii_alnum(c) || c == '.' || c == '_' || c == '@' || c == '+' || c == '-';
}
bool extension_char(unsigned char c) {
    return ascii_alnum(c) || c == '*' || c == '#' || c == '+' || c == '.' || c == '_' || c == '-';
}
template <class Pred>
bool all_of_length(std::string_view s, size_t max, Pred ok) {
    if (s.empty() || s.size() > max) return false;
    for (unsigned char c : s)
        if (!ok(c)) return false;
    return true;
}

struct Problem {
    std::string code;
    std::string what;  // the message without "line N: "
};

struct Record {
    int line = 0;  // where it starts
    // At most one more field than the header is kept: enough to say the
    // count is wrong, without a hostile row of commas filling the memory.
    std::vector<std::string> fields;
    size_t field_count = 0;  // all of them
    bool blank = false;      // an empty line: one unquoted empty field
    std::optional<Problem> problem;
};

// Splits text into records (RFC 4180 section 2), counting every LF, those
// inside quoted fields too, so each record knows the line it starts on. A
// record with a problem is still read to its real end, so the next record
// starts where a correct reader would start it.
class Tokenizer {
public:
    Tokenizer(std::string_view text, size_t max_field) : text_(text), max_field_(max_field) {}

    bool at_end() const { return pos_ >= text_.size(); }

    // names label fields in messages ("display_name", or "column 7").
    void read(Record& r, const std::vector<std::string>& names) {
        r.line = line_;
        r.fields.assign(1, std::string());
        r.field_count = 1;
        r.problem.reset();
        names_ = &names;
        record_ = &r;
        field_ = &r.fields.back();
        // Without a header yet, one column more than there are names is
        // enough to find the first unknown or repeated column.
        const size_t keep = (names.empty() ? kColumnNames.size() : names.size()) + 1;
        bool field_start = true, quoted_field = false, in_quotes = false, after_close = false;
        while (pos_ < text_.size()) {
            const char c = text_[pos_++];
            const bool first_char = std::exchange(field_start, false);
            if (in_quotes) {
                if (c == '"' && peek() == '"') {  // rule 7: "" is one quote
                    ++pos_;
                    append(c);
                } else if (c == '"') {
                    in_quotes = false;
                    after_close = true;
                } else {
                    if (c == '\n') ++line_;
                    append(c);  // rule 6: commas and line breaks (CR alone too) are data
                }
            } else if (c == ',') {
                end_field();
                field_ = &scratch_;
                if (r.field_count++ < keep) field_ = &r.fields.emplace_back();
                field_->clear();
                field_start = true;
                quoted_field = after_close = false;
            } else if (c == '\n' || (c == '\r' && peek() == '\n')) {
                if (c == '\r') ++pos_;
                ++line_;
                break;
            } else if (c == '"' && first_char) {
                in_quotes = quoted_field = true;  // rule 5: a quote opens only at the start of a field
            } else {
                // Only a record's first problem is reported: no message is built after it.
                if (!r.problem && after_close)
                    fail("bad_quote", cat(label(), " has text after its closing quote"));
                else if (!r.problem && c == '"')
                    fail("bad_quote", cat(label(), " has a quote inside an unquoted field (quote the whole field and ",
                                          "double the quote: \"\")"));
                append(c);
            }
        }
        if (in_quotes) fail("unterminated_quote", cat(label(), " opens a quote that is never closed"));
        end_field();
        r.blank = r.field_count == 1 && r.fields[0].empty() && !quoted_field;
    }

private:
    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

    std::string label() const {
        const size_t i = record_->field_count - 1;
        return i < names_->size() ? (*names_)[i] : cat("column ", i + 1);
    }

    void fail(std::string_view code, std::string what) {
        if (!record_->problem) record_->problem = Problem{std::string(code), std::move(what)};
    }

    // A record already in error keeps no more data: only its end matters.
    void append(char c) {
        if (record_->problem) return;
        if (field_->size() < max_field_)
            *field_ += c;
        else
            overflow_ = true;
    }

    void end_field() {
        if (overflow_)
            fail("field_too_long", cat(label(), " must be at most ", max_field_, " bytes long"));
        else if (!record_->problem && !valid_utf8(*field_))
            fail("bad_utf8", cat(label(), " is not valid UTF-8"));
        overflow_ = false;
    }

    std::string_view text_;
    size_t max_field_;
    size_t pos_ = 0;
    int line_ = 1;
    bool overflow_ = false;
    const std::vector<std::string>* names_ = nullptr;
    Record* record_ = nullptr;
    std::string* field_ = nullptr;  // the field being read: in the record, or scratch_ past the kept ones
    std::string scratch_;
};

class Importer {
public:
    Importer(CsvImport& out, const std::vector<std::string>& existing, const CsvLimits& limits)
        : out_(out), existing_(existing.begin(), existing.end()), limits_(limits) {}

    void run(std::string_view text) {
        Tokenizer tokens(text, limits_.max_field);
        if (tokens.at_end()) return file_error("empty", cat("the file is empty: ", kHeaderRequired));
        Record r;
        const std::vector<std::string> no_names;
        tokens.read(r, no_names);
        if (r.blank) {
            while (r.blank && !tokens.at_end()) tokens.read(r, no_names);
            if (r.blank) return file_error("empty", cat("the file has only empty lines: ", kHeaderRequired));
            return error(1, {"bad_header", "the first line is empty: it must name the columns"});
        }
        if (!read_header(r)) return;

        // Empty lines are held back until a record follows them: those at
        // the end of the file are the "empty last line" and are not records.
        int blank_line = 0;
        size_t blanks = 0;
        while (!tokens.at_end()) {
            tokens.read(r, names_);
            if (r.blank) {
                if (blanks++ == 0) blank_line = r.line;
                continue;
            }
            for (size_t i = 0; i < blanks; ++i) {
                Record empty{blank_line + static_cast<int>(i), {std::string()}, 1, true, std::nullopt};
                if (!row(empty)) return;
            }
            blanks = 0;
            if (!row(r)) return;
        }
    }

private:
    bool read_header(Record& r) {
        if (r.problem) {
            error(r.line, std::move(*r.problem));
            return false;
        }
        std::array<size_t, kColumnNames.size()> seen{};  // 1-based position of each column, 0 = absent
        for (size_t i = 0; i < r.fields.size(); ++i) {
            const std::string& name = r.fields[i];
            size_t k = 0;
            while (k < kColumnNames.size() && kColumnNames[k] != name) ++k;
            if (k == kColumnNames.size()) {
                error(r.line, {"bad_header", cat("unknown column ", quoted(name), " in the header (the first line ",
                                                 "names the columns: ", kColumnList, ")")});
                return false;
            }
            if (seen[k]) {
                error(r.line, {"bad_header", cat("column ", quoted(name), " appears twice in the header (columns ",
                                                 seen[k], " and ", i + 1, ")")});
                return false;
            }
            seen[k] = i + 1;
            columns_.push_back(static_cast<Column>(k));
        }
        if (!seen[static_cast<size_t>(Column::username)]) {
            error(r.line, {"bad_header", "the header has no username column"});
            return false;
        }
        names_ = std::move(r.fields);
        return true;
    }

    // false when the row limit ends the import.
    bool row(Record& r) {
        if (out_.rows == limits_.max_rows) {
            error(r.line,
                  {"too_large", cat("more than ", limits_.max_rows, " rows: the rest of the file is not read")});
            return false;
        }
        ++out_.rows;
        config::User user;
        if (auto problem = check(r, user))
            error(r.line, std::move(*problem));
        else
            out_.users.push_back(std::move(user));
        return true;
    }

    std::optional<Problem> check(Record& r, config::User& user) {
        if (r.problem) return std::move(r.problem);
        if (r.field_count != names_.size()) {
            const std::string header = cat("the header has ", count_of(names_.size(), "column"));
            if (r.blank) return Problem{"column_count", cat("empty line: ", header)};
            return Problem{"column_count", cat(count_of(r.field_count, "field"), ": ", header)};
        }
        for (size_t i = 0; i < columns_.size(); ++i) field_of(user, columns_[i]) = std::move(r.fields[i]);

        const std::string& name = user.username;
        if (name.empty()) return Problem{"missing_username", "username is required"};
        if (!all_of_length(name, kMaxUsernameLength, username_char))
            return Problem{"bad_username",
                           cat("username must be 1-64 characters of A-Z, a-z, 0-9 and . _ @ + -, not ", quoted(name))};
        if (existing_.count(name))
            return Problem{"duplicate_username", cat("username ", quoted(name), " is already a configured user")};
        // Like the config, the first occurrence counts even when its row is
        // bad for another reason: the file names the user twice either way.
        if (auto [it, fresh] = first_line_.emplace(name, r.line); !fresh)
            return Problem{"duplicate_username",
                           cat("duplicate username ", quoted(name), " (first on line ", it->second, ")")};

        for (size_t i = 0; i < columns_.size(); ++i) {
            const std::string_view key = names_[i];
            const std::string& value = field_of(user, columns_[i]);
            switch (columns_[i]) {
                case Column::username:
                    break;
                case Column::display_name:
                case Column::department:
                    if (value.size() > kMaxTextLength)
                        return Problem{"bad_text", cat(key, " must be at most ", kMaxTextLength, " bytes long")};
                    if (util::has_control(value))
                        return Problem{"bad_text",
                                       cat(key, " ", quoted(value), " must not contain control characters")};
                    break;
                case Column::extension:
                    if (!value.empty() && !all_of_length(value, kMaxExtensionLength, extension_char))
                        return Problem{"bad_extension",
                                       cat("extension must be 1-32 characters of A-Z, a-z, 0-9 and * # + . _ -, not ",
                                           quoted(value))};
                    break;
                case Column::rich_uri:
                case Column::telephony_uri:
                    // Empty: rich presence not configured, or the telephony
                    // URI derived from the extension (Config::resolved_telephony_uri).
                    if (std::string why; !value.empty() && !config::is_sip_uri(value, why))
                        return Problem{"bad_uri", cat(key, " ", quoted(value), " is not a SIP URI: it ", why)};
                    break;
            }
        }
        return std::nullopt;
    }

    static std::string& field_of(config::User& u, Column c) {
        switch (c) {
            case Column::username:
                return u.username;
            case Column::display_name:
                return u.display_name;
            case Column::department:
                return u.department;
            case Column::extension:
                return u.extension;
            case Column::rich_uri:
                return u.rich_uri;
            case Column::telephony_uri:
                break;
        }
        return u.telephony_uri;
    }

    void error(int line, Problem p) {
        out_.errors.push_back({line, std::move(p.code), cat("line ", line, ": ", p.what)});
    }
    void file_error(std::string_view code, std::string_view what) {
        out_.errors.push_back({0, std::string(code), std::string(what)});
    }

    CsvImport& out_;
    std::unordered_set<std::string_view> existing_;
    const CsvLimits& limits_;
    std::vector<std::string> names_;  // the header, in file order
    std::vector<Column> columns_;     // the same, as columns
    std::unordered_map<std::string, int> first_line_;
};

}  // namespace

CsvImport parse_users_csv(std::string_view text, const std::vector<std::string>& existing, const CsvLimits& limits) {
    CsvImport out;
    if (text.size() > limits.max_bytes) {
        out.errors.push_back(
            {0, "too_large",
             cat("the file is ", text.size(), " bytes long: at most ", limits.max_bytes, " are allowed")});
        return out;
    }
    if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
    Importer(out, existing, limits).run(text);
    return out;
}

}  // namespace presenced::presence
