// Plain-text tables for people: one header row, columns sized to content,
// "-" for absent values, no colour.
#pragma once

#include <string>
#include <vector>

namespace presenced::ctl {

class Table {
public:
    explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    std::string render() const;

private:
    std::vector<std::string> header_;
    std::vector<std::vector<std::string>> rows_;
};

// Display width of UTF-8 text, counted in code points (good enough for the
// Latin, Greek and Cyrillic names of a directory).
size_t display_width(const std::string& text);

}  // namespace presenced::ctl
