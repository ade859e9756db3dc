#include "params.h"

#include <cstring>

namespace kiln {

Params::Params(const Args& args, const Napi::Value& v, std::initializer_list<const char*> keys)
    : args_(args), keys_(keys), values_(keys.size()) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction() || v.IsTypedArray()) {
    args.type_error("params expected an object, got " + describe(v));
  }
  Napi::Object obj = v.As<Napi::Object>();
  Napi::Array names = obj.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    Napi::Value n = names.Get(i);
    std::string key = n.ToString().Utf8Value();
    size_t k = index(key.c_str());
    if (k == keys_.size()) {
      std::string list;
      for (const char* known : keys_) list += std::string(list.empty() ? "" : ", ") + known;
      args.range_error("params." + key + " is not a parameter (expected one of " + list + ")");
    }
    values_[k] = obj.Get(n);
  }
}

size_t Params::index(const char* key) const {
  for (size_t k = 0; k < keys_.size(); ++k)
    if (std::strcmp(key, keys_[k]) == 0) return k;
  return keys_.size();
}

Napi::Value Params::get(const char* key) const {
  size_t k = index(key);
  return k < keys_.size() && !values_[k].IsEmpty() ? values_[k] : args_.undefined();
}

size_t Params::size(const char* key, size_t fallback) const {
  Napi::Value v = get(key);
  return v.IsUndefined() ? fallback : args_.size_value(v, name(key).c_str());
}

size_t Params::required_size(const char* key) const {
  return args_.size_value(get(key), name(key).c_str());
}

size_t Params::positive_size(const char* key) const {
  const size_t v = required_size(key);
  if (v == 0) args_.range_error(name(key) + " expected an integer >= 1, got 0");
  return v;
}

bool Params::flag(const char* key, bool fallback) const {
  Napi::Value v = get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) args_.type_error(name(key) + " expected a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}

float Params::number(const char* key, float fallback) const {
  Napi::Value v = get(key);
  return v.IsUndefined() ? fallback : args_.finite_float_value(v, name(key).c_str());
}

std::string Params::choice(const char* key, std::initializer_list<const char*> options) const {
  Napi::Value v = get(key);
  if (v.IsUndefined()) return *options.begin();
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    for (const char* o : options)
      if (s == o) return s;
  }
  std::string list;
  for (const char* o : options) list += std::string(list.empty() ? "" : ", ") + "'" + o + "'";
  if (!v.IsString()) args_.type_error(name(key) + " expected one of " + list + ", got " + describe(v));
  args_.range_error(name(key) + " expected one of " + list + ", got '" + v.As<Napi::String>().Utf8Value() + "'");
}

}  // namespace kiln
