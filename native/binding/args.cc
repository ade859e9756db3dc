#include "args.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace kiln {

namespace {
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

Napi::Error coded(Napi::Error err, const char* code) {
  err.Set("code", Napi::String::New(err.Env(), code));
  return err;
}

std::string number_text(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  // Print as JavaScript would: integers in full below 1e21, otherwise the shortest digits that
  // read back to the same double.
  char buf[64];
  if (d == std::floor(d) && std::fabs(d) < 1e21) {
    std::snprintf(buf, sizeof buf, "%.0f", d);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  // printf pads the exponent to two digits ("1e-08"); JavaScript does not ("1e-8")
  std::string s = buf;
  size_t e = s.find('e');
  if (e != std::string::npos && e + 2 < s.size() && s[e + 2] == '0') s.erase(e + 2, 1);
  return s;
}

const char* typed_array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";  // newer kinds (Float16Array) that no kernel takes
  }
}
}  // namespace

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return std::string("boolean ") + (v.As<Napi::Boolean>().Value() ? "true" : "false");
  if (v.IsNumber()) return "number " + number_text(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return "string";
  if (v.IsBigInt()) return "bigint";
  if (v.IsSymbol()) return "symbol";
  if (v.IsFunction()) return "function";
  if (v.IsTypedArray()) {
    auto t = v.As<Napi::TypedArray>();
    return std::string(typed_array_name(t.TypedArrayType())) + "(" + std::to_string(t.ElementLength()) + ")";
  }
  if (v.IsArray()) return "Array(" + std::to_string(v.As<Napi::Array>().Length()) + ")";
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsDataView()) return "DataView";
  return "object";
}

Args::Args(const Napi::CallbackInfo& info, const char* op, size_t count) : info_(info), op_(op) {
  if (info.Length() != count) {
    type_error("expected " + std::to_string(count) + " arguments, got " + std::to_string(info.Length()));
  }
}

Args::Args(const Napi::CallbackInfo& info, const char* op, size_t min, size_t max) : info_(info), op_(op) {
  if (info.Length() < min || info.Length() > max) {
    type_error("expected " + std::to_string(min) + " to " + std::to_string(max) + " arguments, got " +
               std::to_string(info.Length()));
  }
}

bool Args::flag(size_t i, const char* name) const {
  if (i >= info_.Length() || info_[i].IsUndefined()) return false;
  if (!info_[i].IsBoolean()) type_error(std::string(name) + " expected a boolean, got " + describe(info_[i]));
  return info_[i].As<Napi::Boolean>().Value();
}

void Args::type_error(const std::string& msg) const {
  throw coded(Napi::TypeError::New(info_.Env(), std::string(op_) + ": " + msg), "KILN_ERR_ARG_TYPE");
}

void Args::range_error(const std::string& msg) const {
  throw coded(Napi::RangeError::New(info_.Env(), std::string(op_) + ": " + msg), "KILN_ERR_ARG_RANGE");
}

Napi::Float32Array Args::f32(size_t i, const char* name) const { return f32_value(info_[i], name); }

namespace {
// One Node-API call checks the type (it fails on anything but a typed array); a small kernel's
// call reads three or four arrays, and each call costs ~100 ns.
bool is_f32(const Napi::Value& v) {
  napi_typedarray_type type;
  return napi_get_typedarray_info(v.Env(), v, &type, nullptr, nullptr, nullptr, nullptr) == napi_ok && type == napi_float32_array;
}
}  // namespace

Napi::Float32Array Args::f32_value(const Napi::Value& v, const char* name) const {
  if (!is_f32(v)) type_error(std::string(name) + " expected Float32Array, got " + describe(v));
  return v.As<Napi::Float32Array>();
}

Napi::Float32Array Args::f32_or_null(size_t i, const char* name) const { return f32_or_null_value(info_[i], name); }

Napi::Float32Array Args::f32_or_null_value(const Napi::Value& v, const char* name) const {
  if (v.IsNull() || v.IsUndefined()) return Napi::Float32Array();
  if (!is_f32(v)) type_error(std::string(name) + " expected Float32Array or null, got " + describe(v));
  return v.As<Napi::Float32Array>();
}

Napi::Int32Array Args::i32(size_t i, const char* name) const { return i32_value(info_[i], name); }

Napi::Int32Array Args::i32_or_null(size_t i, const char* name) const {
  const Napi::Value v = info_[i];
  if (v.IsNull() || v.IsUndefined()) return Napi::Int32Array();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    type_error(std::string(name) + " expected Int32Array or null, got " + describe(v));
  }
  return v.As<Napi::Int32Array>();
}

Napi::Int32Array Args::i32_value(const Napi::Value& v, const char* name) const {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    type_error(std::string(name) + " expected Int32Array, got " + describe(v));
  }
  return v.As<Napi::Int32Array>();
}

float Args::finite_float(size_t i, const char* name) const { return finite_float_value(info_[i], name); }

float Args::finite_float_value(const Napi::Value& v, const char* name) const {
  if (!v.IsNumber()) type_error(std::string(name) + " expected a finite number, got " + describe(v));
  return finite_float_number(v.As<Napi::Number>().DoubleValue(), name);
}

float Args::finite_float_number(double d, const char* name) const {
  if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max()) {
    range_error(std::string(name) + " expected a finite float32 number, got " + number_text(d));
  }
  return static_cast<float>(d);
}

size_t Args::size(size_t i, const char* name) const { return size_value(info_[i], name); }

size_t Args::size_value(const Napi::Value& v, const char* name) const {
  if (!v.IsNumber()) type_error(std::string(name) + " expected a non-negative integer, got " + describe(v));
  return size_number(v.As<Napi::Number>().DoubleValue(), name);
}

size_t Args::size_number(double d, const char* name) const {
  if (!std::isfinite(d) || d < 0 || d != std::floor(d) || d > kMaxSafeInteger) {
    range_error(std::string(name) + " expected a non-negative integer, got " + number_text(d));
  }
  return static_cast<size_t>(d);
}

size_t Args::mul(size_t a, size_t b, const char* what) const {
  if (a != 0 && b > static_cast<size_t>(kMaxSafeInteger) / a) {
    range_error(std::string(what) + " = " + std::to_string(a) + "*" + std::to_string(b) + " overflows");
  }
  return a * b;
}

void Args::expect_length(const char* name, const Napi::Float32Array& a, size_t expected, const char* formula) const {
  if (a.ElementLength() != expected) {
    range_error(std::string(name) + " expected length " + std::to_string(expected) + (formula ? std::string(" (") + formula + ")" : "") +
                ", got " + std::to_string(a.ElementLength()));
  }
}

void Args::expect_length(const char* name, const Napi::Int32Array& a, size_t expected, const char* formula) const {
  if (a.ElementLength() != expected) {
    range_error(std::string(name) + " expected length " + std::to_string(expected) + (formula ? std::string(" (") + formula + ")" : "") +
                ", got " + std::to_string(a.ElementLength()));
  }
}

void Args::expect_at_least(const char* name, const Napi::Float32Array& a, size_t needed, const char* formula) const {
  if (a.ElementLength() < needed) {
    range_error(std::string(name) + " expected length >= " + std::to_string(needed) + " (" + formula + "), got " +
                std::to_string(a.ElementLength()));
  }
}

namespace {
bool overlaps(const void* a, size_t na, const void* b, size_t nb) {
  auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return na != 0 && nb != 0 && pa < pb + nb && pb < pa + na;
}
bool overlaps(const Napi::Float32Array& a, const Napi::Float32Array& b) {
  return overlaps(a.Data(), a.ElementLength() * sizeof(float), b.Data(), b.ElementLength() * sizeof(float));
}
}  // namespace

void Args::no_partial_overlap(const char* out_name, const Napi::Float32Array& out, const char* in_name,
                              const Napi::Float32Array& in) const {
  bool same = out.Data() == in.Data() && out.ElementLength() == in.ElementLength();
  if (!same && overlaps(out, in)) {
    range_error(std::string(out_name) + " expected to be the same memory as " + in_name +
                " or not to overlap it, got a partial overlap");
  }
}

void Args::disjoint(const char* out_name, const Napi::Float32Array& out, const char* in_name,
                    const Napi::Float32Array& in) const {
  if (overlaps(out, in)) {
    range_error(std::string(out_name) + " expected not to overlap " + in_name + ", got overlapping memory");
  }
}

void Args::disjoint(const char* out_name, const Napi::Int32Array& out, const char* in_name,
                    const Napi::Float32Array& in) const {
  if (overlaps(out.Data(), out.ElementLength() * sizeof(int32_t), in.Data(), in.ElementLength() * sizeof(float))) {
    range_error(std::string(out_name) + " expected not to overlap " + in_name + ", got overlapping memory");
  }
}

}  // namespace kiln
