// Pure functions that decide whether a path names something under the mount prefix.
// No state and no system calls, so they are unit-tested and fuzzed on their own.
#pragma once

#include <string>
#include <string_view>

namespace myfs::preload {

// Lexically normalizes an absolute path: collapses "//", drops ".", resolves ".." against
// the components before it (never above "/"), keeps a trailing '/' of a non-root result.
// "/a/./b/../c/" -> "/a/c/". The kernel resolves ".." physically; this is only used to
// classify paths that already contain "..".
std::string lexicalNormalize(std::string_view path);

// If the absolute path `abs` is `prefix` or lies under it ("/myfs", "/myfs/x",
// "//myfs/x"), stores the mount-relative rest in `rel` ("/" for the mount root itself,
// else the text after the prefix, starting with '/') and returns true.
bool underPrefix(std::string_view abs, std::string_view prefix, std::string* rel);

}  // namespace myfs::preload
