// What stream joins (eddy/joins.h) are made of: ProcessJoinFunction, the function of
// interval joins (Flink's ProcessJoinFunction; subclass it, each subtask runs its own
// copy), and TaggedUnion, the record of either input that window joins and coGroups window
// together.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "eddy/operator.h"
#include "eddy/serializer.h"
#include "eddy/time.h"
#include "eddy/timers.h"

namespace eddy {

// Called once for every pair of joined records (Flink's ProcessJoinFunction). What it
// collects gets the pair's timestamp, the larger of the two records' timestamps.
template <class In1, class In2, class Out>
class ProcessJoinFunction {
 public:
  using first_type = In1;
  using second_type = In2;
  using output_type = Out;

  class Context {
   public:
    virtual ~Context() = default;
    // Event time of the left record, of the right record, and of the pair (their maximum).
    virtual Timestamp left_timestamp() const = 0;
    virtual Timestamp right_timestamp() const = 0;
    virtual Timestamp timestamp() const = 0;
    // Emits `value` into the side output `tag`, with timestamp().
    template <class S>
    void output(const OutputTag<S>& tag, S value) {
      side_output_target().emit_side(tag.id(), std::move(value), timestamp());
    }

   protected:
    virtual OperatorBase& side_output_target() = 0;
  };

  virtual ~ProcessJoinFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void process_element(const In1& left, const In2& right, Context& context,
                               Collector<Out>& out) = 0;
  virtual void close() {}
};

// A record of the first or of the second input of a window join or coGroup (Flink's
// TaggedUnion): both inputs become one stream of these, keyed and windowed together.
template <class A, class B>
class TaggedUnion {
 public:
  TaggedUnion() = default;
  static TaggedUnion of_first(A value) {
    return TaggedUnion(std::in_place_index<0>, std::move(value));
  }
  static TaggedUnion of_second(B value) {
    return TaggedUnion(std::in_place_index<1>, std::move(value));
  }

  bool is_first() const { return value_.index() == 0; }
  bool is_second() const { return value_.index() == 1; }
  // The value; only for the input it is from.
  const A& first() const { return std::get<0>(value_); }
  const B& second() const { return std::get<1>(value_); }
  A& first() { return std::get<0>(value_); }
  B& second() { return std::get<1>(value_); }

  bool operator==(const TaggedUnion&) const = default;

 private:
  template <size_t I, class V>
  TaggedUnion(std::in_place_index_t<I> index, V&& value) : value_(index, std::forward<V>(value)) {}

  std::variant<A, B> value_;
};

// A tag byte (0: first, 1: second), then the value: window contents live in list state.
template <Serializable A, Serializable B>
struct Serializer<TaggedUnion<A, B>> {
  static constexpr uint32_t kVersion = 1;
  static void write(ByteWriter& w, const TaggedUnion<A, B>& value) {
    if (value.is_first()) {
      w.write_fixed(uint8_t{0});
      Serializer<A>::write(w, value.first());
    } else {
      w.write_fixed(uint8_t{1});
      Serializer<B>::write(w, value.second());
    }
  }
  static TaggedUnion<A, B> read(ByteReader& r) {
    size_t at = r.position();
    auto tag = r.read_fixed<uint8_t>("tagged union tag");
    if (tag == 0) return TaggedUnion<A, B>::of_first(Serializer<A>::read(r));
    if (tag == 1) return TaggedUnion<A, B>::of_second(Serializer<B>::read(r));
    r.fail("tagged union tag " + std::to_string(tag) + " is neither 0 nor 1", at);
  }
  static std::string signature() {
    return "tagged_union<" + Serializer<A>::signature() + "," + Serializer<B>::signature() + ">";
  }
};

}  // namespace eddy
