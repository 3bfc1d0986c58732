#include "preload/path_routing.h"

namespace myfs::preload {

std::string lexicalNormalize(std::string_view path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (c.empty() || c == ".") {
      // nothing
    } else if (c == "..") {
      auto slash = out.rfind('/');
      out.resize(slash == std::string::npos ? 0 : slash);
    } else {
      out += '/';
      out += c;
    }
    i = j;
  }
  if (!path.empty() && path.back() == '/' && !out.empty()) out += '/';
  return out.empty() ? "/" : out;
}

bool underPrefix(std::string_view abs, std::string_view prefix, std::string* rel) {
  // Leading duplicate slashes name the root, as the kernel takes them.
  size_t start = 0;
  while (start + 1 < abs.size() && abs[start] == '/' && abs[start + 1] == '/') ++start;
  std::string_view s = abs.substr(start);
  if (s.substr(0, prefix.size()) != prefix) return false;
  if (s.size() > prefix.size() && s[prefix.size()] != '/') return false;
  *rel = std::string(s.substr(prefix.size()));
  if (rel->empty()) *rel = "/";
  return true;
}

}  // namespace myfs::preload
