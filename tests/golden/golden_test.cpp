// Golden: `presenced -n -v -f tests/golden/X.toml` (stdout, stderr and exit
// status) must equal tests/golden/X.expected byte for byte. Regenerate on
// purpose with scripts/update-golden.sh and review the diff.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Runs from the source tree so the path printed in the output is relative and stable.
std::string run_check(const std::string& relative_toml) {
    const std::string command =
        "cd '" PROJECT_SOURCE_DIR "' && '" PRESENCED_BIN "' -n -v -f '" + relative_toml + "' 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    const int status = pclose(pipe);
    REQUIRE(WIFEXITED(status));
    return out + "exit " + std::to_string(WEXITSTATUS(status)) + "\n";
}

}  // namespace

TEST_CASE("presenced -n -v output matches the golden files", "[golden]") {
    const fs::path dir = fs::path(PROJECT_SOURCE_DIR) / "tests" / "golden";
    int compared = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".toml") continue;
        const fs::path expected = fs::path(entry.path()).replace_extension(".expected");
        INFO(entry.path().filename().string());
        REQUIRE(fs::exists(expected));
        CHECK(run_check("tests/golden/" + entry.path().filename().string()) == read_file(expected));
        ++compared;
    }
    CHECK(compared >= 4);
}
