// Users from CSV files (presencectl users import, presence.users_csv):
// RFC 4180 with a header row naming the columns
//   username,display_name,department,extension,rich_uri,telephony_uri
// in any order (username required; the others optional, unknown columns are
// an error), UTF-8 (a leading BOM is skipped), CRLF or LF line ends, quoted
// fields with "" escapes and embedded line breaks. Every bad row is
// reported with its line number (the line the record starts on) and reason.
//
// A row is valid exactly when the same user would be valid as a [[user]]
// table in presenced.toml (config/validate.cpp): same username, extension,
// text and URI rules, so importing never admits what the config refuses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace presenced::presence {

inline constexpr size_t kMaxCsvBytes = size_t{64} * 1024 * 1024;  // a whole file
inline constexpr size_t kMaxCsvRows = 1'000'000;
inline constexpr size_t kMaxCsvField = 1024;  // bytes in one field

// The limits above; tests and the fuzz target pass small ones to reach the
// limit paths with small inputs.
struct CsvLimits {
    size_t max_bytes = kMaxCsvBytes;
    size_t max_rows = kMaxCsvRows;
    size_t max_field = kMaxCsvField;
};

struct CsvError {
    int line = 0;  // 1-based line where the record starts (0: the file as a whole)
    // Stable reason codes: "bad_header" (missing username column, unknown or
    // repeated column, empty first line), "column_count" (a record with more
    // or fewer fields than the header, or an empty line), "missing_username"
    // (an empty username field), "bad_username" (not [A-Za-z0-9._@+-]{1,64}),
    // "duplicate_username" (twice in the file: the second and later
    // occurrences; or also a configured user: every occurrence),
    // "bad_extension" (not empty and not [A-Za-z0-9*#+._-]{1,32}),
    // "bad_text" (display_name or department over 256 bytes or with a
    // control character, line breaks included), "bad_uri" (rich_uri or
    // telephony_uri not empty and not a sip: or sips: URI with a host),
    // "bad_utf8" (overlong forms, surrogates, above U+10FFFF, truncated),
    // "field_too_long", "unterminated_quote", "bad_quote" (a quote inside an
    // unquoted field or text after a closing quote), "too_large" (file or
    // row count limits), "empty" (no header).
    std::string code;
    // For people: "line 7: duplicate username \"bob\" (first on line 3)";
    // errors about the file as a whole (line 0) have no "line N: " prefix.
    // Echoed data has its control characters escaped (util::escape_control).
    std::string message;
};

struct CsvImport {
    std::vector<config::User> users;  // the good rows, in file order
    std::vector<CsvError> errors;     // every bad row, in file order
    size_t rows = 0;                  // data records read (good + bad)
};

// Parses and validates text. `existing` are usernames already defined
// elsewhere (the config's [[user]] tables): a CSV row repeating one is a
// duplicate_username error. Never throws; hostile input gets errors.
//
// Each bad row gives exactly one error, the first problem found in it:
// tokenizing problems in reading order, then the field count, then the
// username, then the other fields left to right. Good rows are kept when
// others are bad (the caller decides whether to apply them). A file over
// max_bytes gives one too_large error and nothing else; a bad or missing
// header gives one error and no rows (rows cannot be read without it); the
// record after max_rows gives one too_large error and ends the import.
// Empty lines at the end of the file are ignored; elsewhere an empty line is
// a record with one empty field.
CsvImport parse_users_csv(std::string_view text, const std::vector<std::string>& existing = {},
                          const CsvLimits& limits = {});

}  // namespace presenced::presence
