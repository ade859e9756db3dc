#include "params.h"

#include <algorithm>
#include <cstring>

namespace kiln {

Params::Params(const Args& args, const Napi::Value& v, std::initializer_list<const char*> keys) : args_(args) {
  if (keys.size() > kMaxKeys) throw Napi::Error::New(v.Env(), "Params: more keys than kMaxKeys (a binding bug)");
  for (const char* key : keys) keys_[count_++] = key;
  if (!v.IsObject() || v.IsArray() || v.IsFunction() || v.IsTypedArray()) {
    args.type_error("params expected an object, got " + describe(v));
  }
  Napi::Object obj = v.As<Napi::Object>();
  // Own enumerable string keys only (a for-in walk of the prototype chain cost more than the
  // rest of a small GEMM's call), numbers as strings: every name is a string.
  napi_value raw = nullptr;
  if (napi_get_all_property_names(v.Env(), obj, napi_key_own_only, static_cast<napi_key_filter>(napi_key_enumerable | napi_key_skip_symbols),
                                  napi_key_numbers_to_strings, &raw) != napi_ok) {
    throw Napi::Error::New(v.Env(), "params: could not list the object's keys");
  }
  Napi::Array names(v.Env(), raw);
  for (uint32_t i = 0; i < names.Length(); ++i) {
    Napi::Value n = names.Get(i);
    // The name read into a buffer on the stack: a name that fills it is longer than every known
    // key, so unknown (then read whole, for the message).
    char key[32];
    size_t len = 0;
    const bool read = napi_get_value_string_utf8(n.Env(), n, key, sizeof key, &len) == napi_ok;
    size_t k = read && len < sizeof key - 1 ? index(key) : count_;
    if (k == count_) {
      std::string list;
      for (size_t j = 0; j < count_; ++j) list += std::string(j == 0 ? "" : ", ") + keys_[j];
      args.range_error("params." + n.ToString().Utf8Value() + " is not a parameter (expected one of " + list + ")");
    }
    values_[k] = obj.Get(n);
  }
}

Params::Label Params::label(const char* key) {
  // copied, not formatted: this runs for every field of every call (snprintf was 4% of a small
  // GEMM's call)
  Label l;
  constexpr char prefix[] = "params.";
  std::memcpy(l.text, prefix, sizeof prefix - 1);
  const size_t room = sizeof l.text - sizeof prefix, len = std::min(std::strlen(key), room);
  std::memcpy(l.text + sizeof prefix - 1, key, len);
  l.text[sizeof prefix - 1 + len] = '\0';
  return l;
}

size_t Params::index(const char* key) const {
  // The bindings ask with the very literals they listed, so the pointers usually match; names
  // read from the object (and other copies of a literal) fall through to strcmp.
  for (size_t k = 0; k < count_; ++k)
    if (keys_[k] == key) return k;
  for (size_t k = 0; k < count_; ++k)
    if (std::strcmp(key, keys_[k]) == 0) return k;
  return count_;
}

Napi::Value Params::get(const char* key) const {
  size_t k = index(key);
  return k < count_ && !values_[k].IsEmpty() ? values_[k] : args_.undefined();
}

size_t Params::size(const char* key, size_t fallback) const {
  Napi::Value v = get(key);
  return v.IsUndefined() ? fallback : args_.size_value(v, label(key).text);
}

size_t Params::required_size(const char* key) const {
  return args_.size_value(get(key), label(key).text);
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
  return v.IsUndefined() ? fallback : args_.finite_float_value(v, label(key).text);
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
