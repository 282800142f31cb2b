// How the print sink and error messages show a record: `to_display_string(value)`.
// Arithmetic types, strings, std::pair/std::tuple (Flink's "(a,b)" form), std::optional,
// sequence containers ("[a, b]") and any type with an `operator<<` are built in.
#pragma once

#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace eddy {

template <class T>
std::string to_display_string(const T& value);

namespace internal {

template <class T>
concept Streamable = requires(std::ostream& os, const T& v) { os << v; };

template <class T>
concept Iterable = requires(const T& v) {
  v.begin();
  v.end();
};

template <class T>
struct IsTupleLike : std::false_type {};
template <class A, class B>
struct IsTupleLike<std::pair<A, B>> : std::true_type {};
template <class... Ts>
struct IsTupleLike<std::tuple<Ts...>> : std::true_type {};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <class T>
void append_display(std::string& out, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    out += value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, char>) {
    out += value;
  } else if constexpr (std::is_arithmetic_v<T>) {
    if constexpr (std::is_floating_point_v<T>) {
      std::ostringstream os;
      os << value;
      out += os.str();
    } else {
      out += std::to_string(value);
    }
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out += std::string_view(value);
  } else if constexpr (IsTupleLike<T>::value) {
    out += '(';
    bool first = true;
    std::apply(
        [&](const auto&... v) {
          ((out += first ? "" : ",", first = false, append_display(out, v)), ...);
        },
        value);
    out += ')';
  } else if constexpr (IsOptional<T>::value) {
    if (value) {
      append_display(out, *value);
    } else {
      out += "null";
    }
  } else if constexpr (Streamable<T>) {
    std::ostringstream os;
    os << value;
    out += os.str();
  } else if constexpr (Iterable<T>) {
    out += '[';
    bool first = true;
    for (const auto& v : value) {
      if (!first) out += ", ";
      first = false;
      append_display(out, v);
    }
    out += ']';
  } else {
    static_assert(sizeof(T) == 0,
                  "eddy cannot display this type: give it an operator<< (std::ostream&)");
  }
}

}  // namespace internal

template <class T>
std::string to_display_string(const T& value) {
  std::string out;
  internal::append_display(out, value);
  return out;
}

}  // namespace eddy
