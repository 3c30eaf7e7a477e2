// A private temporary directory for one test case, removed with everything
// in it when the object goes away, so parallel test cases never share files.
#pragma once

#include <string>
#include <string_view>

namespace presenced::test {

class TempDir {
public:
    // Creates presenced-test-XXXXXX under $TMPDIR, or under /tmp when
    // TMPDIR is unset or so long that a socket path inside would not fit in
    // sun_path. Throws std::runtime_error when mkdtemp fails.
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // path() + "/" + name
    std::string file(std::string_view name) const;
    // Writes (replaces) a file inside the directory; returns its path.
    std::string write(std::string_view name, std::string_view content) const;

private:
    std::string path_;
};

// Whole file as a string; "" when it cannot be read.
std::string read_file(const std::string& path);
// Writes (replaces) a file; throws std::runtime_error on failure.
void write_file(const std::string& path, std::string_view content);

}  // namespace presenced::test
