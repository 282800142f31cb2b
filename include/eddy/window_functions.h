// Window functions (Flink's ProcessWindowFunction and ProcessAllWindowFunction): called
// when a window fires, with all its elements (process()) or with the one result of an
// incremental reduce()/aggregate() of them. Results carry the window's max_timestamp().
//
// Subclass ProcessWindowFunction<In, Out, K, W>, or pass a lambda
//   (const K& key, ProcessWindowContext<W>& context, std::span<const In> elements,
//    Collector<Out>& out)
// to WindowedStream::process(). Each subtask runs its own copy; open()/close() as for
// other rich functions.
#pragma once

#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "eddy/keyed_state_store.h"
#include "eddy/operator.h"
#include "eddy/time.h"
#include "eddy/timers.h"

namespace eddy {

// What a window function sees of the window being evaluated.
template <class W>
class ProcessWindowContext {
 public:
  using window_type = W;
  virtual ~ProcessWindowContext() = default;

  virtual const W& window() const = 0;
  virtual Timestamp current_processing_time() const = 0;
  // kNoTimestamp before the first watermark.
  virtual Timestamp current_watermark() const = 0;
  // State of the current key in this window; the function removes what it keeps here in
  // clear(), which is called when the window is dropped. Not available for merging
  // (session) windows, as in Flink: using it throws InvalidJobError.
  virtual KeyedStateStore& window_state() = 0;
  // State of the current key shared by all its windows.
  virtual KeyedStateStore& global_state() = 0;

  // Emits `value` into the side output `tag`, with the window's max_timestamp().
  template <class X>
  void output(const OutputTag<X>& tag, X value) {
    if (OutputBase* output = side_output(tag.id())) {
      static_cast<Output<X>*>(output)->emit(std::move(value), window().max_timestamp());
    }
  }

 protected:
  virtual OutputBase* side_output(const std::string& tag) = 0;
};

template <class In, class Out, class K, class W>
class ProcessWindowFunction {
 public:
  using input_type = In;
  using output_type = Out;
  using key_type = K;
  using window_type = W;
  using Context = ProcessWindowContext<W>;

  virtual ~ProcessWindowFunction() = default;
  virtual void open(RuntimeContext&) {}
  // Evaluates the window of `key`; `elements` are its elements in arrival order (or the
  // one pre-aggregated value).
  virtual void process(const K& key, Context& context, std::span<const In> elements,
                       Collector<Out>& out) = 0;
  // The window is being dropped (at its cleanup time): remove its window_state().
  virtual void clear(Context&) {}
  virtual void close() {}
};

// For windows of a whole stream (DataStream::window_all): no key.
template <class In, class Out, class W>
class ProcessAllWindowFunction {
 public:
  using input_type = In;
  using output_type = Out;
  using window_type = W;
  using Context = ProcessWindowContext<W>;

  virtual ~ProcessAllWindowFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void process(Context& context, std::span<const In> elements, Collector<Out>& out) = 0;
  virtual void clear(Context&) {}
  virtual void close() {}
};

namespace internal {

// A ProcessWindowFunction made of a lambda (key, context, elements, out).
template <class In, class Out, class K, class W, class F>
class LambdaProcessWindowFunction final : public ProcessWindowFunction<In, Out, K, W> {
 public:
  explicit LambdaProcessWindowFunction(F fn) : fn_(std::move(fn)) {}
  void open(RuntimeContext& context) override {
    if constexpr (requires { fn_.open(context); }) fn_.open(context);
  }
  void process(const K& key, ProcessWindowContext<W>& context, std::span<const In> elements,
               Collector<Out>& out) override {
    fn_(key, context, elements, out);
  }
  void close() override {
    if constexpr (requires { fn_.close(); }) fn_.close();
  }

 private:
  F fn_;
};

// A ProcessAllWindowFunction made of a lambda (context, elements, out).
template <class In, class Out, class W, class F>
class LambdaProcessAllWindowFunction final : public ProcessAllWindowFunction<In, Out, W> {
 public:
  explicit LambdaProcessAllWindowFunction(F fn) : fn_(std::move(fn)) {}
  void open(RuntimeContext& context) override {
    if constexpr (requires { fn_.open(context); }) fn_.open(context);
  }
  void process(ProcessWindowContext<W>& context, std::span<const In> elements,
               Collector<Out>& out) override {
    fn_(context, elements, out);
  }
  void close() override {
    if constexpr (requires { fn_.close(); }) fn_.close();
  }

 private:
  F fn_;
};

// Runs a ProcessAllWindowFunction where a keyed one is expected (window_all() keys every
// record alike).
template <class K, class P>
class AllWindowFunctionAdapter final
    : public ProcessWindowFunction<typename P::input_type, typename P::output_type, K,
                                   typename P::window_type> {
 public:
  using In = typename P::input_type;
  using Out = typename P::output_type;
  using W = typename P::window_type;
  explicit AllWindowFunctionAdapter(P fn) : fn_(std::move(fn)) {}
  void open(RuntimeContext& context) override { fn_.open(context); }
  void process(const K&, ProcessWindowContext<W>& context, std::span<const In> elements,
               Collector<Out>& out) override {
    fn_.process(context, elements, out);
  }
  void clear(ProcessWindowContext<W>& context) override { fn_.clear(context); }
  void close() override { fn_.close(); }

 private:
  P fn_;
};

}  // namespace internal
}  // namespace eddy
