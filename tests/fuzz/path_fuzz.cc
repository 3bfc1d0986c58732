// Fuzzes the path handling that every call goes through: the shim's classification
// (lexicalNormalize, underPrefix) and the Vfs's component splitting (splitPath).
// Checks invariants, aborting on a violation.
#include <limits.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/vfs_impl.h"
#include "preload/path_routing.h"

namespace {

void check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s for input of %zu bytes\n", what, input.size());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.find('\0') != std::string_view::npos) return 0;  // C paths end at NUL

  // lexicalNormalize: absolute, idempotent, free of "." and ".." components and "//".
  std::string abs = "/" + std::string(in);
  std::string norm = myfs::preload::lexicalNormalize(abs);
  check(!norm.empty() && norm[0] == '/', "normalized path is absolute", in);
  check(myfs::preload::lexicalNormalize(norm) == norm, "normalize is idempotent", in);
  check(norm.find("//") == std::string::npos, "no empty components", in);
  check(norm.find("/./") == std::string::npos && norm.find("/../") == std::string::npos, "no dot components", in);

  // underPrefix: the rest is "/" or starts with '/', and prefix + rest names the path.
  std::string rel;
  if (myfs::preload::underPrefix(norm, "/myfs", &rel)) {
    check(!rel.empty() && rel[0] == '/', "relative rest starts with /", in);
    check(norm == "/myfs" ? rel == "/" : norm == "/myfs" + rel, "prefix + rest is the path", in);
  } else {
    check(norm != "/myfs" && norm.rfind("/myfs/", 0) != 0, "paths under the prefix are recognized", in);
  }

  // splitPath: no empty components, "." only last, the components in order (a component
  // over NAME_MAX is the walk's ENAMETOOLONG, when it reaches it).
  auto parts = myfs::splitPath(in);
  if (!parts) {
    check(parts.err() == ENAMETOOLONG, "splitPath fails only with ENAMETOOLONG", in);
    return 0;
  }
  for (size_t i = 0; i < parts->size(); ++i) {
    const std::string& c = (*parts)[i];
    check(!c.empty(), "no empty component", in);
    check(c.find('/') == std::string::npos, "no slash in a component", in);
    check(c != "." || i + 1 == parts->size(), "\".\" only last", in);
  }
  return 0;
}
