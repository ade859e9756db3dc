// Argument checks shared by every binding. Each failure throws a JS error that names the op, the
// argument, what was expected and what was given, e.g.
//   TypeError  "add: y expected Float32Array, got number 3"
//   RangeError "columnSum: x expected length 6272 (rows*cols), got 6270"
// with err.code KILN_ERR_ARG_TYPE or KILN_ERR_ARG_RANGE. Nothing touches buffer memory before
// every argument of the call has passed.
#pragma once

#include <napi.h>

#include <cstddef>
#include <string>

namespace kiln {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op, size_t count);
  // Between min and max arguments: the ones past min are optional (see flag()).
  Args(const Napi::CallbackInfo& info, const char* op, size_t min, size_t max);

  // A Float32Array (any offset into any ArrayBuffer or SharedArrayBuffer). Detached buffers have
  // length 0 and fail the length checks that follow.
  Napi::Float32Array f32(size_t i, const char* name) const;
  // Any finite number, rounded to float (alpha = 0.1 is fine); NaN, +-Infinity and numbers that
  // overflow float are rejected.
  float finite_float(size_t i, const char* name) const;
  // A non-negative integer size below 2^53 (so it survived the trip through a JS number).
  size_t size(size_t i, const char* name) const;
  // A Float32Array, or null/undefined for an optional buffer (returns an empty handle: check
  // IsEmpty(), and use data_or_null()).
  Napi::Float32Array f32_or_null(size_t i, const char* name) const;
  // An Int32Array (indices, e.g. the argmax of max pooling).
  Napi::Int32Array i32(size_t i, const char* name) const;
  // An Int32Array, or null/undefined for an optional one (an empty handle: check IsEmpty()).
  Napi::Int32Array i32_or_null(size_t i, const char* name) const;
  // An optional boolean: false when absent or undefined.
  bool flag(size_t i, const char* name) const;

  // The same checks for a value that is not a positional argument (a field of a params object).
  Napi::Float32Array f32_value(const Napi::Value& v, const char* name) const;
  float finite_float_value(const Napi::Value& v, const char* name) const;
  size_t size_value(const Napi::Value& v, const char* name) const;
  Napi::Float32Array f32_or_null_value(const Napi::Value& v, const char* name) const;
  Napi::Int32Array i32_value(const Napi::Value& v, const char* name) const;
  // The same checks for a number already read out of JS (gemmFields' array).
  float finite_float_number(double d, const char* name) const;
  size_t size_number(double d, const char* name) const;

  // a * b, or a RangeError naming `what` if the product overflows size_t or 2^53.
  size_t mul(size_t a, size_t b, const char* what) const;
  void expect_length(const char* name, const Napi::Float32Array& a, size_t expected, const char* formula) const;
  // For strided views: the array must hold at least `needed` floats.
  void expect_at_least(const char* name, const Napi::Float32Array& a, size_t needed, const char* formula) const;
  void expect_length(const char* name, const Napi::Int32Array& a, size_t expected, const char* formula) const;
  // Outputs may be the very same memory as an input (in place) or disjoint from it, never a
  // partial overlap: the kernels read and write in SIMD blocks.
  void no_partial_overlap(const char* out_name, const Napi::Float32Array& out, const char* in_name,
                          const Napi::Float32Array& in) const;
  void disjoint(const char* out_name, const Napi::Float32Array& out, const char* in_name,
                const Napi::Float32Array& in) const;
  void disjoint(const char* out_name, const Napi::Int32Array& out, const char* in_name,
                const Napi::Float32Array& in) const;

  Napi::Value undefined() const { return info_.Env().Undefined(); }
  [[noreturn]] void type_error(const std::string& msg) const;
  [[noreturn]] void range_error(const std::string& msg) const;

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
};

// The data of an optional buffer (see Args::f32_or_null), or nullptr.
inline float* data_or_null(Napi::Float32Array& a) { return a.IsEmpty() ? nullptr : a.Data(); }

// A short description of a JS value for error messages: "number 3", "undefined", "Float64Array(5)".
std::string describe(const Napi::Value& v);

}  // namespace kiln
