// Users from CSV: RFC 4180 tokenizing (quotes, line breaks, BOM, line
// numbers of records that span lines), every error code with its line, the
// limits, and a 100,000-row file.
#include <catch2/catch.hpp>

#include <chrono>
#include <iterator>
#include <string>
#include <vector>

#include "presence/csv_import.hpp"

using namespace presenced::presence;

namespace {

// "line code" for each error, the shape most checks compare.
std::vector<std::string> codes(const CsvImport& r) {
    std::vector<std::string> out;
    for (const auto& e : r.errors) out.push_back(std::to_string(e.line) + " " + e.code);
    return out;
}

std::vector<std::string> usernames(const CsvImport& r) {
    std::vector<std::string> out;
    for (const auto& u : r.users) out.push_back(u.username);
    return out;
}

// One error expected: its line, code and message.
void require_one_error(const CsvImport& r, int line, const std::string& code, const std::string& message) {
    INFO("errors: " << Catch::Detail::stringify(codes(r)));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == line);
    CHECK(r.errors[0].code == code);
    CHECK(r.errors[0].message == message);
}

const std::string kFullHeader = "username,display_name,department,extension,rich_uri,telephony_uri\n";

}  // namespace

TEST_CASE("csv: every column is read, in file order", "[csv]") {
    auto r = parse_users_csv(kFullHeader +
                             "alice,Alice Smith,Sales,1001,sip:alice@example.com,sip:1001@pbx.example.com\n"
                             "bob,Bob Jones,R&D,1002,sips:bob@example.com;transport=tcp,\n");
    CHECK(r.errors.empty());
    CHECK(r.rows == 2);
    REQUIRE(r.users.size() == 2);
    const auto& a = r.users[0];
    CHECK(a.username == "alice");
    CHECK(a.display_name == "Alice Smith");
    CHECK(a.department == "Sales");
    CHECK(a.extension == "1001");
    CHECK(a.rich_uri == "sip:alice@example.com");
    CHECK(a.telephony_uri == "sip:1001@pbx.example.com");
    CHECK(r.users[1].rich_uri == "sips:bob@example.com;transport=tcp");
    CHECK(r.users[1].telephony_uri.empty());  // derived later from the extension
}

TEST_CASE("csv: the header may list the columns in any order and leave optional ones out", "[csv]") {
    auto r = parse_users_csv("telephony_uri,extension,username\nsip:7@pbx,7,carol\n,,dave\n");
    CHECK(r.errors.empty());
    REQUIRE(r.users.size() == 2);
    CHECK(r.users[0].username == "carol");
    CHECK(r.users[0].extension == "7");
    CHECK(r.users[0].telephony_uri == "sip:7@pbx");
    CHECK(r.users[0].display_name.empty());
    CHECK(r.users[0].rich_uri.empty());
    CHECK(r.users[1].username == "dave");

    auto only = parse_users_csv("username\nerin\nfrank");  // no line break after the last record
    CHECK(only.errors.empty());
    CHECK(usernames(only) == std::vector<std::string>{"erin", "frank"});

    auto quoted_header = parse_users_csv("\"username\",\"display_name\"\ngus,Gus\n");
    CHECK(quoted_header.errors.empty());
    CHECK(usernames(quoted_header) == std::vector<std::string>{"gus"});
}

TEST_CASE("csv: quoted fields keep commas, doubled quotes and empty values", "[csv]") {
    auto r = parse_users_csv(
        "username,display_name,department\n"
        "\"alice\",\"Smith, Alice\",\"R&D \"\"West\"\"\"\n"
        "bob,\"\",\"\"\"\"\n");
    CHECK(r.errors.empty());
    REQUIRE(r.users.size() == 2);
    CHECK(r.users[0].username == "alice");
    CHECK(r.users[0].display_name == "Smith, Alice");
    CHECK(r.users[0].department == "R&D \"West\"");
    CHECK(r.users[1].display_name.empty());
    CHECK(r.users[1].department == "\"");
}

TEST_CASE("csv: line breaks inside quotes are data and the record keeps its start line", "[csv]") {
    // carol's record spans lines 2-3 (CRLF inside the quotes); dave is on
    // line 4, erin on 5, frank's spans 6-8 (LF and a lone CR inside).
    auto r = parse_users_csv(
        "username,display_name\r\n"
        "carol,\"Carol\r\nJones\"\r\n"
        "dave!,Dave\r\n"
        "erin,Erin\r\n"
        "frank,\"a\nb\rc\nd\"\r\n"
        "gus,\"Gus\"x\r\n");
    CHECK(codes(r) == std::vector<std::string>{"2 bad_text", "4 bad_username", "6 bad_text", "9 bad_quote"});
    REQUIRE(r.errors.size() == 4);
    // The message shows the line break was kept inside the field.
    CHECK(r.errors[0].message == "line 2: display_name \"Carol\\r\\nJones\" must not contain control characters");
    CHECK(r.errors[2].message == "line 6: display_name \"a\\nb\\rc\\nd\" must not contain control characters");
    CHECK(usernames(r) == std::vector<std::string>{"erin"});
    CHECK(r.rows == 5);
}

TEST_CASE("csv: LF, CRLF and mixed files read the same, whitespace is kept", "[csv]") {
    const std::string lf = "username,display_name\nalice, Alice \nbob,Bob\n";
    const std::string crlf = "username,display_name\r\nalice, Alice \r\nbob,Bob\r\n";
    const std::string mixed = "username,display_name\r\nalice, Alice \nbob,Bob\r\n";
    for (const auto& text : {lf, crlf, mixed}) {
        auto r = parse_users_csv(text);
        CHECK(r.errors.empty());
        REQUIRE(r.users.size() == 2);
        CHECK(r.users[0].display_name == " Alice ");  // RFC 4180 rule 4: spaces are part of a field
        CHECK(r.users[1].display_name == "Bob");      // the CR of CRLF is the line end, not data
    }
    // A CR not followed by LF outside quotes is data, not a line end.
    auto cr = parse_users_csv("username,display_name\ralice,x\n");
    require_one_error(cr, 1, "bad_header",
                      "line 1: unknown column \"display_name\\ralice\" in the header (the first line names the "
                      "columns: username, display_name, department, extension, rich_uri and telephony_uri)");
    auto spaced = parse_users_csv("username\n bob\n");
    require_one_error(spaced, 2, "bad_username",
                      "line 2: username must be 1-64 characters of A-Z, a-z, 0-9 and . _ @ + -, not \" bob\"");
}

TEST_CASE("csv: empty lines at the end are ignored, elsewhere they are records", "[csv]") {
    auto end = parse_users_csv("username,display_name\nalice,A\n\n\r\n\n");
    CHECK(end.errors.empty());
    CHECK(end.rows == 1);

    auto middle = parse_users_csv("username,display_name\nalice,A\n\n\nbob,B\n\n");
    CHECK(codes(middle) == std::vector<std::string>{"3 column_count", "4 column_count"});
    CHECK(middle.errors[0].message == "line 3: empty line: the header has 2 columns");
    CHECK(usernames(middle) == std::vector<std::string>{"alice", "bob"});
    CHECK(middle.rows == 4);

    // With only a username column an empty line is an empty username.
    auto one = parse_users_csv("username\nalice\n\nbob\n");
    require_one_error(one, 3, "missing_username", "line 3: username is required");
}

TEST_CASE("csv: a leading BOM is skipped and multi-byte UTF-8 is kept intact", "[csv]") {
    const std::string names[] = {
        "Zoë Ångström",               // 2-byte sequences
        "営業部 東京",                // 3-byte
        "Grinning \xF0\x9F\x98\x80",  // 4-byte (U+1F600)
        "\xEF\xBB\xBFmid-text BOM",   // U+FEFF is only skipped at the very start of the file
        "\xF4\x8F\xBF\xBF",           // U+10FFFF, the last code point
    };
    std::string text = "\xEF\xBB\xBFusername,display_name\r\n";
    for (size_t i = 0; i < std::size(names); ++i) text += "u" + std::to_string(i) + ",\"" + names[i] + "\"\r\n";
    auto r = parse_users_csv(text);
    CHECK(r.errors.empty());
    REQUIRE(r.users.size() == std::size(names));
    for (size_t i = 0; i < std::size(names); ++i) CHECK(r.users[i].display_name == names[i]);

    // Only one BOM is skipped: a second one is part of the first column name.
    auto twice = parse_users_csv("\xEF\xBB\xBF\xEF\xBB\xBFusername\nbob\n");
    REQUIRE(twice.errors.size() == 1);
    CHECK(twice.errors[0].code == "bad_header");
}

TEST_CASE("csv: malformed UTF-8 is bad_utf8 on the row's line", "[csv]") {
    const char* bad[] = {
        "\xC0\xAF",          // overlong '/'
        "\xC1\xBF",          // overlong
        "\xE0\x80\xAF",      // overlong 3-byte
        "\xF0\x80\x80\xAF",  // overlong 4-byte
        "\xED\xA0\x80",      // surrogate U+D800
        "\xED\xBF\xBF",      // surrogate U+DFFF
        "\xF4\x90\x80\x80",  // U+110000
        "\xF5\x80\x80\x80",  // beyond any code point
        "\xFF",              // never in UTF-8
        "\x80",              // stray continuation byte
        "x\xC3",             // truncated at the end of the field
        "\xE2\x82",          // truncated 3-byte
        "\xC3(",             // lead byte without its continuation
    };
    for (const char* value : bad) {
        INFO("value: " << Catch::Detail::stringify(std::string(value)));
        auto r = parse_users_csv(std::string("username,department\nok,fine\nbob,") + value + "\ncarol,x\n");
        require_one_error(r, 3, "bad_utf8", "line 3: department is not valid UTF-8");
        CHECK(usernames(r) == std::vector<std::string>{"ok", "carol"});
    }
    auto header = parse_users_csv("username,\xC0\xAF\nbob,x\n");
    require_one_error(header, 1, "bad_utf8", "line 1: column 2 is not valid UTF-8");
    CHECK(header.rows == 0);
}

TEST_CASE("csv: bad_header for unknown, repeated, missing or empty columns, and nothing else is read", "[csv]") {
    auto unknown = parse_users_csv("username,email\nbob,b@example.com\n");
    require_one_error(unknown, 1, "bad_header",
                      "line 1: unknown column \"email\" in the header (the first line names the columns: username, "
                      "display_name, department, extension, rich_uri and telephony_uri)");
    CHECK(unknown.rows == 0);
    CHECK(unknown.users.empty());

    auto twice = parse_users_csv("username,extension,extension\nbob,1,2\n");
    require_one_error(twice, 1, "bad_header",
                      "line 1: column \"extension\" appears twice in the header (columns 2 and 3)");
    auto missing = parse_users_csv("display_name,extension\nBob,1\n");
    require_one_error(missing, 1, "bad_header", "line 1: the header has no username column");
    auto empty_name = parse_users_csv("username,\nbob,\n");
    CHECK(codes(empty_name) == std::vector<std::string>{"1 bad_header"});
    auto first_empty = parse_users_csv("\nusername\nbob\n");
    require_one_error(first_empty, 1, "bad_header", "line 1: the first line is empty: it must name the columns");
    // A file without a header: its first row is read as one.
    auto no_header = parse_users_csv("alice,Alice\n");
    CHECK(codes(no_header) == std::vector<std::string>{"1 bad_header"});
    // Tokenizing problems in the header keep their own code.
    auto quote = parse_users_csv("username,\"display_name\"x\nbob,B\n");
    require_one_error(quote, 1, "bad_quote", "line 1: column 2 has text after its closing quote");
}

TEST_CASE("csv: empty files", "[csv]") {
    for (const char* text : {"", "\xEF\xBB\xBF"}) {
        auto r = parse_users_csv(text);
        require_one_error(r, 0, "empty", "the file is empty: a header row naming the columns is required");
        CHECK(r.rows == 0);
    }
    auto blank = parse_users_csv("\n\r\n\n");
    require_one_error(blank, 0, "empty", "the file has only empty lines: a header row naming the columns is required");
}

TEST_CASE("csv: column_count for rows with more or fewer fields than the header", "[csv]") {
    auto r = parse_users_csv("username,display_name\nalice,A,extra\nbob\ncarol,C\n");
    CHECK(codes(r) == std::vector<std::string>{"2 column_count", "3 column_count"});
    CHECK(r.errors[0].message == "line 2: 3 fields: the header has 2 columns");
    CHECK(r.errors[1].message == "line 3: 1 field: the header has 2 columns");
    CHECK(usernames(r) == std::vector<std::string>{"carol"});
    CHECK(r.rows == 3);

    // Fields past the header's count are still counted and checked.
    auto wide = parse_users_csv("username,display_name\na" + std::string(100'000, ',') + "\nb,x,y,z,\xC0\n");
    CHECK(codes(wide) == std::vector<std::string>{"2 column_count", "3 bad_utf8"});
    CHECK(wide.errors[0].message == "line 2: 100001 fields: the header has 2 columns");
    CHECK(wide.errors[1].message == "line 3: column 5 is not valid UTF-8");
}

TEST_CASE("csv: missing_username and bad_username", "[csv]") {
    auto r = parse_users_csv(
        "display_name,username\n"
        "Nobody,\n"
        "Spaced,bob smith\n"
        "Accent,b\xC3\xB3"
        "b\n"
        "Long," +
        std::string(65, 'x') +
        "\n"
        "Max," +
        std::string(64, 'y') +
        "\n"
        "Punct,a.b_c@d+e-f\n"
        "Escape,\"a\x1b[31m\"\n");
    CHECK(codes(r) == std::vector<std::string>{"2 missing_username", "3 bad_username", "4 bad_username",
                                               "5 bad_username", "8 bad_username"});
    CHECK(r.errors[0].message == "line 2: username is required");
    CHECK(r.errors[1].message ==
          "line 3: username must be 1-64 characters of A-Z, a-z, 0-9 and . _ @ + -, not \"bob smith\"");
    // Echoed data cannot forge terminal or log output.
    CHECK(r.errors[4].message ==
          "line 8: username must be 1-64 characters of A-Z, a-z, 0-9 and . _ @ + -, not \"a\\x1b[31m\"");
    CHECK(usernames(r) == std::vector<std::string>{std::string(64, 'y'), "a.b_c@d+e-f"});
}

TEST_CASE("csv: duplicate_username names the first line, configured users fail on every occurrence", "[csv]") {
    auto r = parse_users_csv(
        "username,extension\n"
        "bob,1\n"
        "alice,2\n"
        "bob,3\n"
        "carol,4\n"
        "bob,5\n"
        "alice,6\n",
        {"alice", "zed"});
    CHECK(codes(r) == std::vector<std::string>{"3 duplicate_username", "4 duplicate_username", "6 duplicate_username",
                                               "7 duplicate_username"});
    CHECK(r.errors[0].message == "line 3: username \"alice\" is already a configured user");
    CHECK(r.errors[1].message == "line 4: duplicate username \"bob\" (first on line 2)");
    CHECK(r.errors[2].message == "line 6: duplicate username \"bob\" (first on line 2)");
    CHECK(r.errors[3].message == "line 7: username \"alice\" is already a configured user");
    REQUIRE(r.users.size() == 2);
    CHECK(r.users[0].username == "bob");
    CHECK(r.users[0].extension == "1");  // the first occurrence is the one kept
    CHECK(r.users[1].username == "carol");

    // The first occurrence counts even when its row is bad for another reason.
    auto bad_first = parse_users_csv("username,rich_uri\ndave,http://x\ndave,sip:dave@x\n");
    CHECK(codes(bad_first) == std::vector<std::string>{"2 bad_uri", "3 duplicate_username"});
    // Names are compared exactly, like the config does.
    CHECK(parse_users_csv("username\nBob\nbob\n", {"BOB"}).errors.empty());
}

TEST_CASE("csv: bad_uri for rich_uri and telephony_uri, empty is allowed", "[csv]") {
    auto r = parse_users_csv(
        "username,rich_uri,telephony_uri\n"
        "a,http://example.com,\n"
        "b,,sip:\n"
        "c,sip:c@,\n"
        "d,,sip:d@example.com?subject=x\n"
        "e,,\n"
        "f,SIP:f@192.0.2.1:5061;transport=tcp,sips:100@[2001:db8::1]\n");
    CHECK(codes(r) == std::vector<std::string>{"2 bad_uri", "3 bad_uri", "4 bad_uri", "5 bad_uri"});
    CHECK(r.errors[0].message ==
          "line 2: rich_uri \"http://example.com\" is not a SIP URI: it must start with sip: or "
          "sips:");
    CHECK(r.errors[3].message ==
          "line 5: telephony_uri \"sip:d@example.com?subject=x\" is not a SIP URI: it must not "
          "carry ?headers");
    CHECK(usernames(r) == std::vector<std::string>{"e", "f"});
}

TEST_CASE("csv: bad_extension and bad_text follow the config's [[user]] rules", "[csv]") {
    auto r = parse_users_csv(
        "username,extension,display_name,department\n"
        "a,12 34,,\n"
        "b," +
        std::string(33, '1') +
        ",,\n"
        "c,*#+._-09Az,,\n"
        "d,,\"tab\there\",\n"
        "e,,," +
        std::string(257, 'd') +
        "\n"
        "f,," +
        std::string(256, 'n') + ",\n");
    CHECK(codes(r) == std::vector<std::string>{"2 bad_extension", "3 bad_extension", "5 bad_text", "6 bad_text"});
    CHECK(r.errors[0].message ==
          "line 2: extension must be 1-32 characters of A-Z, a-z, 0-9 and * # + . _ -, not \"12 34\"");
    CHECK(r.errors[2].message == "line 5: display_name \"tab\\there\" must not contain control characters");
    CHECK(r.errors[3].message == "line 6: department must be at most 256 bytes long");
    CHECK(usernames(r) == std::vector<std::string>{"c", "f"});
}

TEST_CASE("csv: bad_quote for a quote inside an unquoted field or text after a closing quote", "[csv]") {
    auto r = parse_users_csv(
        "username,display_name\n"
        "alice,Al\"ice\n"
        "bob,\"Bob\" \n"
        "\"carol\"x,C\n"
        "dave,\"D,\n\"x,\"y\n\"\n"  // spans lines 5-7: text after a closing quote, then a quoted field
        "erin,E\n");
    CHECK(codes(r) == std::vector<std::string>{"2 bad_quote", "3 bad_quote", "4 bad_quote", "5 bad_quote"});
    CHECK(r.errors[0].message ==
          "line 2: display_name has a quote inside an unquoted field (quote the whole field and "
          "double the quote: \"\")");
    CHECK(r.errors[1].message == "line 3: display_name has text after its closing quote");
    CHECK(r.errors[2].message == "line 4: username has text after its closing quote");
    CHECK(usernames(r) == std::vector<std::string>{"erin"});
}

TEST_CASE("csv: unterminated_quote is reported on the line the record starts", "[csv]") {
    auto r = parse_users_csv("username,display_name\nalice,A\nbob,\"Bob\nJones\ncarol,C\n");
    require_one_error(r, 3, "unterminated_quote", "line 3: display_name opens a quote that is never closed");
    CHECK(usernames(r) == std::vector<std::string>{"alice"});
    CHECK(r.rows == 2);  // the open quote swallows the rest of the file
}

TEST_CASE("csv: field_too_long at the field limit", "[csv]") {
    // 1024 bytes is within the field limit (and too long for a display name);
    // 1025 is not. The long field spans two lines; erin's line stays right.
    auto r = parse_users_csv(
        "username,display_name\n"
        "a," +
        std::string(kMaxCsvField, 'x') +
        "\n"
        "b,\"" +
        std::string(kMaxCsvField, 'x') +
        "\n\"\n"
        "c,C\n"
        "d!,D\n");
    CHECK(codes(r) == std::vector<std::string>{"2 bad_text", "3 field_too_long", "6 bad_username"});
    CHECK(r.errors[1].message == "line 3: display_name must be at most 1024 bytes long");
    CHECK(usernames(r) == std::vector<std::string>{"c"});

    CsvLimits tight;
    tight.max_field = 9;  // "extension" fits, and so must the header
    auto small = parse_users_csv("username,extension\nabcdefghi,123456789\nabcdefghij,1\nab,1234567890\n", {}, tight);
    CHECK(codes(small) == std::vector<std::string>{"3 field_too_long", "4 field_too_long"});
    CHECK(small.errors[0].message == "line 3: username must be at most 9 bytes long");
    CHECK(small.errors[1].message == "line 4: extension must be at most 9 bytes long");
}

TEST_CASE("csv: the first problem of a row is the one reported", "[csv]") {
    auto r = parse_users_csv(
        "username,rich_uri\n"
        "bad name,http://x\n"          // username before the other fields
        "ok1,\"a\"b,c\n"               // tokenizing before the field count
        "bad name,x,y\n"               // field count before the username
        "\xC0\xAF,\"unterminated\n");  // bad UTF-8 in field 1 before the open quote in field 2
    CHECK(codes(r) == std::vector<std::string>{"2 bad_username", "3 bad_quote", "4 column_count", "5 bad_utf8"});
    CHECK(r.rows == 4);
}

TEST_CASE("csv: too_large for the file size and the row count", "[csv]") {
    SECTION("a file over kMaxCsvBytes gives one error and nothing else") {
        std::string text = "username\nbob\n";
        text.resize(kMaxCsvBytes + 1, 'x');
        auto r = parse_users_csv(text);
        require_one_error(r, 0, "too_large", "the file is 67108865 bytes long: at most 67108864 are allowed");
        CHECK(r.rows == 0);
        CHECK(r.users.empty());
    }
    SECTION("the byte limit is inclusive") {
        CsvLimits tight;
        const std::string text = "username\nbob\n";
        tight.max_bytes = text.size();
        CHECK(parse_users_csv(text, {}, tight).users.size() == 1);
        tight.max_bytes = text.size() - 1;
        CHECK(codes(parse_users_csv(text, {}, tight)) == std::vector<std::string>{"0 too_large"});
    }
    SECTION("the record after max_rows ends the import") {
        CsvLimits tight;
        tight.max_rows = 3;
        auto r = parse_users_csv("username\na\n\nb\n\"c\nd\"\ne\n", {}, tight);
        CHECK(codes(r) == std::vector<std::string>{"3 missing_username", "5 too_large"});
        CHECK(r.errors[1].message == "line 5: more than 3 rows: the rest of the file is not read");
        CHECK(r.rows == 3);  // a, the empty line 3, b
        CHECK(usernames(r) == std::vector<std::string>{"a", "b"});

        auto exact = parse_users_csv("username\na\nb\nc\n\n\n", {}, tight);  // trailing empty lines are no records
        CHECK(exact.errors.empty());
        CHECK(exact.rows == 3);
    }
}

TEST_CASE("csv: a 100,000-row file parses", "[csv][slow]") {
    constexpr size_t kRows = 100'000;
    std::string text = kFullHeader;
    for (size_t i = 0; i < kRows; ++i) {
        const std::string n = std::to_string(i);
        text += "user" + n + ",\"Name " + n + ", Jr.\",Dept " + std::to_string(i % 50) + "," + n + ",sip:user" + n +
                "@example.com,sip:" + n + "@pbx.example.com\r\n";
    }
    const auto start = std::chrono::steady_clock::now();
    auto r = parse_users_csv(text, {"someone"});
    const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    WARN("parse_users_csv: " << kRows << " rows, " << text.size() << " bytes in " << elapsed.count() << " ms");
    CHECK(r.errors.empty());
    CHECK(r.rows == kRows);
    REQUIRE(r.users.size() == kRows);
    CHECK(r.users[kRows - 1].username == "user99999");
    CHECK(r.users[kRows - 1].display_name == "Name 99999, Jr.");
    CHECK(r.users[kRows - 1].telephony_uri == "sip:99999@pbx.example.com");
}
