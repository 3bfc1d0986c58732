// Result<T>: a value or a Linux errno, the error space of myfs end to end.
//
// core/ and server/ return Result<T> where a caller must handle failure; the errno is
// chosen where the condition is detected, from the ERRORS list of the matching man page.
//
//   Result<Attr> r = vfs.stat(path);
//   if (!r) return r.error();       // an Errno
//   use(*r);
#pragma once

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace myfs {

// A Linux errno value (ENOENT, EACCES, ...). Never 0 for a failure, never -1.
struct Errno {
  int value = 0;
  constexpr explicit Errno(int v) : value(v) {}
  friend bool operator==(Errno a, Errno b) = default;
};

// The symbolic name of an errno ("ENOENT"), for logs.
const char* errnoName(int err);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Errno err) : v_(err) {}             // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  Errno error() const { return std::get<1>(v_); }
  int err() const { return ok() ? 0 : std::get<1>(v_).value; }

  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }

 private:
  std::variant<T, Errno> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Errno err) : err_(err.value) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return err_ == 0; }
  explicit operator bool() const { return ok(); }
  Errno error() const { return Errno(err_); }
  int err() const { return err_; }

 private:
  int err_ = 0;
};

// A successful Result<void>.
inline Result<void> okResult() { return {}; }

// Result<void> from a wire errno (0 = success).
inline Result<void> fromErr(int err) { return err == 0 ? Result<void>() : Result<void>(Errno(err)); }

}  // namespace myfs

// Returns the error of `expr` (a Result) from the enclosing function if it failed.
#define MYFS_TRY(expr)                          \
  do {                                          \
    auto myfsTryResult_ = (expr);               \
    if (!myfsTryResult_) return myfsTryResult_.error(); \
  } while (0)

// Declares `var` as the value of `expr` (a Result<T>), or returns its error.
#define MYFS_ASSIGN_OR_RETURN(var, expr)                 \
  auto var##Result_ = (expr);                            \
  if (!var##Result_) return var##Result_.error();        \
  auto var = std::move(*var##Result_)
