// Column-aligned text tables.
#include "presencectl/table.hpp"

#include "util/text.hpp"

namespace presenced::ctl {

size_t display_width(const std::string& text) {
    size_t width = 0;
    for (unsigned char c : text)
        if ((c & 0xC0) != 0x80) ++width;
    return width;
}

std::string Table::render() const {
    auto cell = [](const std::string& s) { return s.empty() ? std::string("-") : util::escape_control(s); };
    std::vector<size_t> widths(header_.size(), 0);
    for (size_t i = 0; i < header_.size(); ++i) widths[i] = display_width(header_[i]);
    for (const auto& row : rows_)
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], display_width(cell(row[i])));
    std::string out;
    auto line = [&](const std::vector<std::string>& row, bool is_header) {
        std::string text;
        for (size_t i = 0; i < widths.size(); ++i) {
            const std::string value = i < row.size() ? (is_header ? row[i] : cell(row[i])) : "-";
            text += value;
            if (i + 1 < widths.size()) text += std::string(widths[i] - display_width(value) + 2, ' ');
        }
        out += text + "\n";
    };
    line(header_, true);
    for (const auto& row : rows_) line(row, false);
    return out;
}

}  // namespace presenced::ctl
