// RAII temporary directory for tests (mkdtemp, recursive removal).
#include "support/temp_dir.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace presenced::test {

namespace {
// Leaves room under the directory for "control.sock"-style names: a Unix
// socket path must fit in sun_path (108 bytes with the NUL).
constexpr size_t kMaxBaseLength = 60;
}  // namespace

TempDir::TempDir() {
    std::string base = "/tmp";
    if (const char* env = std::getenv("TMPDIR"); env && *env == '/' && std::strlen(env) <= kMaxBaseLength) base = env;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    std::string pattern = base + "/presenced-test-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr)
        throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    path_ = buffer.data();
}

TempDir::~TempDir() {
    std::error_code ec;  // never throw from a destructor; a leftover dir is only untidy
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::file(std::string_view name) const { return path_ + "/" + std::string(name); }

std::string TempDir::write(std::string_view name, std::string_view content) const {
    std::string path = file(name);
    write_file(path, content);
    return path;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_file(const std::string& path, std::string_view content) {
    // Write a sibling and rename it over the target: a daemon reading the
    // file during a reload sees the old or the new text, never half of it.
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw std::runtime_error("cannot write " + tmp);
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        if (!out) throw std::runtime_error("cannot write " + tmp);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
}

}  // namespace presenced::test
