// The parameters object of a kernel call (gemm's, conv2d's, ...), read field by field with the
// same messages as positional arguments: "conv2dForward: params.strideH expected a non-negative
// integer, got number -1". Unknown keys are rejected, so a typo never passes silently.
// NOTE: the object is read in one pass over its own keys (a handful), not with one property
// lookup per known key: each Node-API call costs ~100 ns, and small kernels take microseconds.
// Nothing here allocates unless an argument is wrong (then the message does): every kernel call
// reads its params, and a training step makes thousands of calls.
#pragma once

#include <napi.h>

#include <initializer_list>
#include <string>

#include "args.h"

namespace kiln {

class Params {
 public:
  // `v` must be a plain object (TypeError otherwise); `keys` are the names it may hold.
  Params(const Args& args, const Napi::Value& v, std::initializer_list<const char*> keys);

  bool has(const char* key) const { return !get(key).IsUndefined(); }
  Napi::Value get(const char* key) const;
  // A non-negative integer; `fallback` when absent.
  size_t size(const char* key, size_t fallback) const;
  // A non-negative integer that must be present.
  size_t required_size(const char* key) const;
  // An integer >= 1 that must be present (a channel count, a kernel size, a stride).
  size_t positive_size(const char* key) const;
  bool flag(const char* key, bool fallback = false) const;
  float number(const char* key, float fallback) const;
  // One of `options` (a string); the first option when absent.
  std::string choice(const char* key, std::initializer_list<const char*> options) const;
  // "params.<key>", for messages.
  static std::string name(const char* key) { return std::string("params.") + key; }

  static constexpr size_t kMaxKeys = 24;

 private:
  // "params.<key>" in a buffer on the stack, for the argument checks: they take the name before
  // they know whether the value is wrong, and a std::string of 16+ characters would allocate.
  struct Label {
    char text[48];
  };
  static Label label(const char* key);

  size_t index(const char* key) const;
  const Args& args_;
  const char* keys_[kMaxKeys];
  Napi::Value values_[kMaxKeys];  // empty where the key is absent
  size_t count_ = 0;
};

}  // namespace kiln
