// User functions beyond plain lambdas. map/filter/flat_map/key_by/reduce take any
// callable; a callable that has `void open(eddy::RuntimeContext&)` and/or `void close()`
// gets them called (Flink's rich functions). Each subtask runs its own copy.
#pragma once

#include <cstdint>
#include <tuple>
#include <type_traits>

#include "eddy/operator.h"
#include "eddy/time.h"
#include "eddy/timers.h"

namespace eddy {

// What every process-function context offers.
class ProcessContextBase {
 public:
  virtual ~ProcessContextBase() = default;
  // Event time of the current record (or of the firing timer); kNoTimestamp when none.
  virtual Timestamp timestamp() const = 0;
  virtual TimerService& timer_service() = 0;
  virtual const RuntimeContext& runtime() const = 0;
  // Emits `value` into the side output `tag`, with timestamp().
  template <class S>
  void output(const OutputTag<S>& tag, S value) {
    side_output_target().emit_side(tag.id(), std::move(value), timestamp());
  }

 protected:
  virtual OperatorBase& side_output_target() = 0;
};

// Flink's ProcessFunction: sees each record with its context and emits any number of
// results. Subclass it, or pass a lambda (const In&, ProcessContext<In, Out>&, Collector<Out>&).
template <class In, class Out>
class ProcessFunction {
 public:
  using input_type = In;
  using output_type = Out;

  // Timers need a keyed stream (use a KeyedProcessFunction there): registering one
  // through this context's timer_service() throws.
  class Context : public ProcessContextBase {};

  virtual ~ProcessFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void process_element(const In& value, Context& context, Collector<Out>& out) = 0;
  // Checkpoint hooks: at each checkpoint barrier, and when a checkpoint completed.
  virtual void snapshot_state(int64_t checkpoint_id) {}
  virtual void notify_checkpoint_complete(int64_t checkpoint_id) {}
  virtual void close() {}
};

template <class In, class Out>
using ProcessContext = typename ProcessFunction<In, Out>::Context;

namespace internal {

// Argument types of a non-generic callable.
template <class F>
struct CallableTraits : CallableTraits<decltype(&std::remove_cvref_t<F>::operator())> {};
template <class C, class R, class... A>
struct CallableTraits<R (C::*)(A...) const> {
  using args = std::tuple<A...>;
};
template <class C, class R, class... A>
struct CallableTraits<R (C::*)(A...)> {
  using args = std::tuple<A...>;
};
template <class C, class R, class... A>
struct CallableTraits<R (C::*)(A...) const noexcept> {
  using args = std::tuple<A...>;
};
template <class C, class R, class... A>
struct CallableTraits<R (C::*)(A...) noexcept> {
  using args = std::tuple<A...>;
};
template <class R, class... A>
struct CallableTraits<R (*)(A...)> {
  using args = std::tuple<A...>;
};
template <class R, class... A>
struct CallableTraits<R(A...)> {
  using args = std::tuple<A...>;
};

template <class F, size_t I>
using ArgType = std::remove_cvref_t<std::tuple_element_t<I, typename CallableTraits<F>::args>>;

template <class C>
struct CollectorValue;
template <class T>
struct CollectorValue<Collector<T>> {
  using type = T;
};

// The result of calling f on a record of type T (moved in when f accepts that).
template <class F, class T>
using ResultOf = std::decay_t<typename std::conditional_t<std::is_invocable_v<F&, T&&>,
                                                          std::invoke_result<F&, T&&>,
                                                          std::invoke_result<F&, T&>>::type>;

template <class F, class T>
decltype(auto) call_with_record(F& fn, T&& value) {
  if constexpr (std::is_invocable_v<F&, T&&>) {
    return fn(std::forward<T>(value));
  } else {
    return fn(value);
  }
}

template <class F>
void open_function(F& fn, RuntimeContext& context) {
  if constexpr (requires { fn.open(context); }) fn.open(context);
}

template <class F>
void close_function(F& fn) {
  if constexpr (requires { fn.close(); }) fn.close();
}

// Checkpoint hooks of user functions (Flink's CheckpointedFunction.snapshotState and
// CheckpointListener): a function object may define snapshot_state(int64_t checkpoint_id),
// called at each checkpoint barrier to bring its operator state up to date, and
// notify_checkpoint_complete(int64_t checkpoint_id).
template <class F>
void snapshot_function(F& fn, int64_t checkpoint_id) {
  if constexpr (requires { fn.snapshot_state(checkpoint_id); }) fn.snapshot_state(checkpoint_id);
}

template <class F>
void notify_function(F& fn, int64_t checkpoint_id) {
  if constexpr (requires { fn.notify_checkpoint_complete(checkpoint_id); }) fn.notify_checkpoint_complete(checkpoint_id);
}

}  // namespace internal
}  // namespace eddy
