// Not API: the window operator (Flink's WindowOperator and EvictingWindowOperator) and the
// builder that WindowedStream (and tests) make it with.
//
// Everything the operator keeps is keyed state of its backend, so it works the same on
// every backend and is snapshotted with the rest of the keyed state:
//   - a window's contents, in the namespace of the serialized window: ValueState of the
//     running reduction or accumulator (reduce / aggregate), ListState of the elements
//     (process) or of the elements with their timestamps (windows with an evictor);
//   - the trigger's partitioned state, in the same namespace;
//   - for merging (session) windows, the key's window -> state-window mapping
//     ("merging-window-set", ListState in no namespace), as in Flink's MergingWindowSet;
//   - timers (InternalTimerService "window-timers"): the trigger's, and a cleanup timer at
//     max_timestamp + allowed lateness per window that clears all of it.
//
// Hot path (reduce/aggregate, non-merging windows): the window's serialized namespace is
// cached per assigned-window position, so a stream of records into the same window
// serializes it once; the contents say whether the window already had state, and while it
// did, its cleanup timer is known to be registered: registering it again (and the
// trigger's registration of that same time, which EventTimeTrigger and
// ProcessingTimeTrigger do on every element) is skipped. No heap allocation per record
// beyond what the state backend and the user's types do.
#pragma once

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eddy/error.h"
#include "eddy/evictors.h"
#include "eddy/functions.h"
#include "eddy/internal/timer_service.h"
#include "eddy/internal/window_preaggregation.h"
#include "eddy/key.h"
#include "eddy/keyed_state_backend.h"
#include "eddy/keyed_state_store.h"
#include "eddy/operator.h"
#include "eddy/serializer.h"
#include "eddy/state.h"
#include "eddy/timers.h"
#include "eddy/triggers.h"
#include "eddy/window_functions.h"
#include "eddy/windows.h"

namespace eddy::internal {

inline constexpr const char* kWindowContentsState = "window-contents";
inline constexpr const char* kMergingWindowSetState = "merging-window-set";
inline constexpr const char* kWindowTimers = "window-timers";

inline const std::string& no_namespace() {
  static const std::string empty;
  return empty;
}

inline Timestamp saturating_add(Timestamp a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<Timestamp>::max() - b)
    return std::numeric_limits<Timestamp>::max();
  return a + b;
}

template <class W>
void write_namespace(std::string& out, const W& window) {
  out.clear();
  serialize_into(out, window);
}

template <class W>
std::string window_string(const W& window) {
  if constexpr (requires { to_string(window); }) {
    return to_string(window);
  } else {
    return "window";
  }
}

// ---- Stages: what the value(s) of a fired window become ----

// Emits the values unchanged (Flink's PassThroughWindowFunction).
template <class V>
class PassThroughStage {
 public:
  using input_type = V;
  using output_type = V;
  void open(RuntimeContext&) {}
  void close() {}
  template <class Scope>
  void emit_one(Scope& scope, V&& value) {
    scope.collector().collect(std::move(value));
  }
  template <class Scope>
  void emit_all(Scope& scope, std::span<const V> values) {
    for (const V& value : values) scope.collector().collect(V(value));
  }
  template <class Scope>
  void clear(Scope&) {}
};

// Calls a ProcessWindowFunction.
template <class PWF>
class ProcessStage {
 public:
  using input_type = typename PWF::input_type;
  using output_type = typename PWF::output_type;
  explicit ProcessStage(PWF fn) : fn_(std::move(fn)) {}
  void open(RuntimeContext& context) { fn_.open(context); }
  void close() { fn_.close(); }
  template <class Scope>
  void emit_one(Scope& scope, input_type&& value) {
    emit_all(scope, std::span<const input_type>(&value, 1));
  }
  template <class Scope>
  void emit_all(Scope& scope, std::span<const input_type> values) {
    fn_.process(scope.key(), scope.process_context(), values, scope.collector());
  }
  template <class Scope>
  void clear(Scope& scope) {
    fn_.clear(scope.process_context());
  }

 private:
  PWF fn_;
};

template <class T, class F>
T call_reduce(F& fn, T acc, const T& value) {
  if constexpr (std::is_invocable_v<F&, T&&, const T&>) {
    return fn(std::move(acc), value);
  } else {
    return fn(std::as_const(acc), value);
  }
}

template <class A>
using AccumulatorOf = std::decay_t<decltype(std::declval<const A&>().create_accumulator())>;
template <class A>
using AggregateResultOf = std::decay_t<decltype(std::declval<const A&>().get_result(
    std::declval<const AccumulatorOf<A>&>()))>;

// ---- Contents: how a window's elements are kept, and evaluated when it fires ----
//
// Every member takes the operator as `scope`; scope.enter_contents() points the backend
// at the window whose contents are meant (the state window, for merging windows).

// Merging windows (sessions): moves the contents of the `sources` namespaces (removed
// there) into `target`'s. Value contents fold with `combine(older, newer)`; list contents
// concatenate.
template <class Scope, class V, class Combine>
void merge_value_state(Scope& scope, ValueState<V>& state, const std::string& target,
                       const std::vector<std::string>& sources, Combine combine) {
  std::optional<V> merged;
  for (const std::string& ns : sources) {
    scope.use_namespace(ns);
    std::optional<V> value = state.value();
    if (!value) continue;
    state.clear();
    merged = merged ? combine(std::move(*merged), *value) : std::move(value);
  }
  if (!merged) return;
  scope.use_namespace(target);
  std::optional<V> current = state.value();
  state.update(current ? combine(std::move(*current), *merged) : std::move(*merged));
}

template <class Scope, class V>
void merge_list_state(Scope& scope, ListState<V>& state, const std::string& target,
                      const std::vector<std::string>& sources) {
  std::vector<V> merged;
  for (const std::string& ns : sources) {
    scope.use_namespace(ns);
    std::vector<V> values = state.get();
    if (values.empty()) continue;
    state.clear();
    for (V& value : values) merged.push_back(std::move(value));
  }
  if (merged.empty()) return;
  scope.use_namespace(target);
  state.add_all(std::move(merged));
}

// reduce(): the running reduction in ValueState<T>.
template <class T, class ReduceFn, class Stage>
class ReduceContents {
 public:
  using output_type = typename Stage::output_type;
  static_assert(
      std::is_same_v<typename Stage::input_type, T>,
      "reduce(fn, window_fn): the window function's input type must be the stream's type");

  ReduceContents(ReduceFn reduce, Stage stage)
      : reduce_(std::move(reduce)), stage_(std::move(stage)) {}

  // Pre-aggregation (window_preaggregation.h), for associative reductions only.
  static constexpr bool kPreAggregates = IsAssociativeReduce<ReduceFn>::value;
  using Acc = T;
  void fold(T& acc, const T& value) { acc = call_reduce(reduce_, std::move(acc), value); }
  // Whether a fired window's reduction can be emitted straight from the pre-aggregation
  // buffer: the stage keeps no state of its own.
  static constexpr bool kEmitsDirectly = std::is_same_v<Stage, PassThroughStage<T>>;
  template <class Scope>
  void emit_accumulated(Scope& scope, T&& acc) {
    stage_.emit_one(scope, std::move(acc));
  }
  // Adds a pre-aggregated `acc` (of later elements) to the window's reduction.
  template <class Scope>
  void add_accumulated(Scope& scope, T&& acc) {
    scope.enter_contents();
    std::optional<T> current = state_->value();
    state_->update(current ? call_reduce(reduce_, std::move(*current), acc) : std::move(acc));
  }
  void open(RuntimeContext& context, KeyedStateBackend& backend) {
    state_ = &backend.get_state(ValueStateDescriptor<T>(kWindowContentsState));
    open_function(reduce_, context);
    stage_.open(context);
  }
  void close() {
    close_function(reduce_);
    stage_.close();
  }
  // Returns whether the window had contents before.
  template <class Scope>
  bool add(Scope& scope, const T& value, Timestamp) {
    scope.enter_contents();
    std::optional<T> acc = state_->value();
    if (!acc) {
      state_->update(value);
      return false;
    }
    state_->update(call_reduce(reduce_, std::move(*acc), value));
    return true;
  }
  template <class Scope>
  void fire(Scope& scope) {
    scope.enter_contents();
    std::optional<T> acc = state_->value();
    if (acc) stage_.emit_one(scope, std::move(*acc));
  }
  template <class Scope>
  void clear(Scope& scope) {
    scope.enter_contents();
    state_->clear();
  }
  // Folds the reductions of `sources` (removed there), in order, into `target`'s.
  template <class Scope>
  void merge(Scope& scope, const std::string& target, const std::vector<std::string>& sources) {
    merge_value_state(scope, *state_, target, sources,
                      [this](T older, const T& newer) { return call_reduce(reduce_, std::move(older), newer); });
  }
  template <class Scope>
  void clear_function(Scope& scope) {
    stage_.clear(scope);
  }

 private:
  ReduceFn reduce_;
  Stage stage_;
  ValueState<T>* state_ = nullptr;
};

// aggregate(): the accumulator in ValueState<ACC>. (Not AggregatingState: merging windows
// need to merge accumulators, which AggregatingState does not expose.)
template <class T, class Agg, class Stage>
class AggregateContents {
 public:
  using Acc = AccumulatorOf<Agg>;
  using output_type = typename Stage::output_type;
  static_assert(std::is_same_v<typename Stage::input_type, AggregateResultOf<Agg>>,
                "aggregate(fn, window_fn): the window function's input type must be the "
                "aggregate's result type");

  AggregateContents(Agg agg, Stage stage) : agg_(std::move(agg)), stage_(std::move(stage)) {}
  void open(RuntimeContext& context, KeyedStateBackend& backend) {
    state_ = &backend.get_state(ValueStateDescriptor<Acc>(kWindowContentsState));
    open_function(agg_, context);
    stage_.open(context);
  }
  void close() {
    close_function(agg_);
    stage_.close();
  }
  template <class Scope>
  bool add(Scope& scope, const T& value, Timestamp) {
    scope.enter_contents();
    std::optional<Acc> acc = state_->value();
    bool existed = acc.has_value();
    state_->update(agg_.add(value, existed ? std::move(*acc) : agg_.create_accumulator()));
    return existed;
  }
  template <class Scope>
  void fire(Scope& scope) {
    scope.enter_contents();
    std::optional<Acc> acc = state_->value();
    if (acc) stage_.emit_one(scope, agg_.get_result(*acc));
  }
  template <class Scope>
  void clear(Scope& scope) {
    scope.enter_contents();
    state_->clear();
  }
  template <class Scope>
  void merge(Scope& scope, const std::string& target, const std::vector<std::string>& sources) {
    merge_value_state(scope, *state_, target, sources,
                      [this](Acc older, const Acc& newer) { return agg_.merge(std::move(older), newer); });
  }
  template <class Scope>
  void clear_function(Scope& scope) {
    stage_.clear(scope);
  }

 private:
  Agg agg_;
  Stage stage_;
  ValueState<Acc>* state_ = nullptr;
};

// process(): every element, in ListState<T>.
template <class T, class Stage>
class ListContents {
 public:
  using output_type = typename Stage::output_type;
  static_assert(std::is_same_v<typename Stage::input_type, T>,
                "process(window_fn): the window function's input type must be the stream's type");

  explicit ListContents(Stage stage) : stage_(std::move(stage)) {}
  void open(RuntimeContext& context, KeyedStateBackend& backend) {
    state_ = &backend.get_list_state(ListStateDescriptor<T>(kWindowContentsState));
    stage_.open(context);
  }
  void close() { stage_.close(); }
  // A list cannot tell cheaply whether it was empty: report "unknown" (false).
  template <class Scope>
  bool add(Scope& scope, const T& value, Timestamp) {
    scope.enter_contents();
    state_->add(value);
    return false;
  }
  template <class Scope>
  void fire(Scope& scope) {
    scope.enter_contents();
    std::vector<T> elements = state_->get();
    if (!elements.empty()) stage_.emit_all(scope, std::span<const T>(elements));
  }
  template <class Scope>
  void clear(Scope& scope) {
    scope.enter_contents();
    state_->clear();
  }
  template <class Scope>
  void merge(Scope& scope, const std::string& target, const std::vector<std::string>& sources) {
    merge_list_state(scope, *state_, target, sources);
  }
  template <class Scope>
  void clear_function(Scope& scope) {
    stage_.clear(scope);
  }

 private:
  Stage stage_;
  ListState<T>* state_ = nullptr;
};

// How an evicting window turns what is left after eviction into the stage's input: as is
// (process), reduced (reduce) or aggregated (aggregate), as Flink's
// InternalIterableWindowFunction, ReduceApplyWindowFunction and AggregateApplyWindowFunction.
template <class T>
struct ApplyAll {
  void open(RuntimeContext&) {}
  void close() {}
  template <class Scope, class Stage>
  void operator()(Scope& scope, Stage& stage, std::vector<T>& values) {
    stage.emit_all(scope, std::span<const T>(values));
  }
};

template <class T, class ReduceFn>
struct ApplyReduce {
  ReduceFn fn;
  void open(RuntimeContext& context) { open_function(fn, context); }
  void close() { close_function(fn); }
  // An empty window emits nothing (Flink would pass a null on).
  template <class Scope, class Stage>
  void operator()(Scope& scope, Stage& stage, std::vector<T>& values) {
    if (values.empty()) return;
    T acc = std::move(values.front());
    for (size_t i = 1; i < values.size(); ++i) acc = call_reduce(fn, std::move(acc), values[i]);
    stage.emit_one(scope, std::move(acc));
  }
};

template <class T, class Agg>
struct ApplyAggregate {
  Agg agg;
  void open(RuntimeContext& context) { open_function(agg, context); }
  void close() { close_function(agg); }
  template <class Scope, class Stage>
  void operator()(Scope& scope, Stage& stage, std::vector<T>& values) {
    AccumulatorOf<Agg> acc = agg.create_accumulator();
    for (const T& value : values) acc = agg.add(value, std::move(acc));
    stage.emit_one(scope, agg.get_result(acc));
  }
};

// Windows with an evictor: every element with its timestamp, in
// ListState<TimestampedValue<T>>; evaluated at fire time over what the evictor leaves.
template <class T, class W, class Apply, class Stage>
class EvictingContents {
 public:
  using output_type = typename Stage::output_type;
  using Element = TimestampedValue<T>;

  EvictingContents(std::shared_ptr<const Evictor<T, W>> evictor, Apply apply, Stage stage)
      : evictor_(std::move(evictor)), apply_(std::move(apply)), stage_(std::move(stage)) {}
  void open(RuntimeContext& context, KeyedStateBackend& backend) {
    state_ = &backend.get_list_state(ListStateDescriptor<Element>(kWindowContentsState));
    apply_.open(context);
    stage_.open(context);
  }
  void close() {
    apply_.close();
    stage_.close();
  }
  template <class Scope>
  bool add(Scope& scope, const T& value, Timestamp timestamp) {
    scope.enter_contents();
    state_->add(Element{value, timestamp});
    return false;
  }
  // As Flink's EvictingWindowOperator: evict_before, the function, evict_after, and the
  // window keeps what is left.
  template <class Scope>
  void fire(Scope& scope) {
    scope.enter_contents();
    std::vector<Element> elements = state_->get();
    if (elements.empty()) return;
    evictor_->evict_before(elements, scope.window(), scope.evictor_context());
    values_.clear();
    values_.reserve(elements.size());
    for (const Element& element : elements) values_.push_back(element.value);
    apply_(scope, stage_, values_);
    values_.clear();
    evictor_->evict_after(elements, scope.window(), scope.evictor_context());
    scope.enter_contents();
    state_->update(std::move(elements));
  }
  template <class Scope>
  void clear(Scope& scope) {
    scope.enter_contents();
    state_->clear();
  }
  template <class Scope>
  void merge(Scope& scope, const std::string& target, const std::vector<std::string>& sources) {
    merge_list_state(scope, *state_, target, sources);
  }
  template <class Scope>
  void clear_function(Scope& scope) {
    stage_.clear(scope);
  }

 private:
  std::shared_ptr<const Evictor<T, W>> evictor_;
  Apply apply_;
  Stage stage_;
  ListState<Element>* state_ = nullptr;
  std::vector<T> values_;
};

// ---- Merging windows ----

// The in-flight windows of one key and the window whose state each uses (Flink's
// MergingWindowSet): when windows merge, the state of one of them becomes the merged
// window's, so only the others' state is moved. Loaded from and persisted to keyed state
// around each use.
template <class W>
class MergingWindowSet {
 public:
  void load(ListState<std::pair<W, W>>& state) {
    mapping_ = state.get();
    dirty_ = false;
  }
  void persist(ListState<std::pair<W, W>>& state) {
    if (dirty_) state.update(mapping_);
    dirty_ = false;
  }
  const W* state_window(const W& window) const {
    for (const auto& [w, state] : mapping_) {
      if (w == window) return &state;
    }
    return nullptr;
  }
  void retire_window(const W& window) {
    if (!remove(window))
      throw std::logic_error("window " + window_string(window) +
                             " is not in the in-flight window set");
  }
  const std::vector<std::pair<W, W>>& mapping() const { return mapping_; }

  // Adds `new_window`, merging it with the windows it overlaps; returns the window it
  // ended up in. For every merge, `merge(result, merged windows, state window of the
  // result, state windows to merge into it)` is called, except when an existing window
  // absorbs the new one unchanged.
  template <class Assigner, class MergeFn>
  W add_window(const W& new_window, const Assigner& assigner, MergeFn&& merge) {
    std::vector<W> windows;
    windows.reserve(mapping_.size() + 1);
    for (const auto& entry : mapping_) windows.push_back(entry.first);
    windows.push_back(new_window);

    std::vector<std::pair<W, std::vector<W>>> results;
    assigner.merge_windows(windows, [&](const std::vector<W>& merged, const W& result) {
      results.emplace_back(result, merged);
    });

    W result_window = new_window;
    bool merged_new_window = false;
    for (auto& [merge_result, merged_windows] : results) {
      auto it = std::find(merged_windows.begin(), merged_windows.end(), new_window);
      if (it != merged_windows.end()) {
        merged_windows.erase(it);
        merged_new_window = true;
        result_window = merge_result;
      }
      // The state of one of the merged windows becomes the merge result's.
      const W* first_state = state_window(merged_windows.front());
      if (first_state == nullptr)
        throw std::logic_error("merging windows: a merged window has no state window");
      W merged_state_window = *first_state;
      std::vector<W> merged_state_windows;
      for (const W& merged : merged_windows) {
        if (auto state = remove(merged)) merged_state_windows.push_back(*state);
      }
      put(merge_result, merged_state_window);
      auto same =
          std::find(merged_state_windows.begin(), merged_state_windows.end(), merged_state_window);
      if (same != merged_state_windows.end()) merged_state_windows.erase(same);
      // Nothing to merge when a pre-existing window merely absorbed the new one.
      bool absorbed = merged_windows.size() == 1 && merged_windows.front() == merge_result;
      if (!absorbed)
        merge(merge_result, merged_windows, *state_window(merge_result), merged_state_windows);
    }
    if (results.empty() || (result_window == new_window && !merged_new_window)) {
      put(result_window, result_window);
    }
    return result_window;
  }

 private:
  std::optional<W> remove(const W& window) {
    for (auto it = mapping_.begin(); it != mapping_.end(); ++it) {
      if (it->first == window) {
        W state = it->second;
        mapping_.erase(it);
        dirty_ = true;
        return state;
      }
    }
    return std::nullopt;
  }
  void put(const W& window, const W& state) {
    dirty_ = true;
    for (auto& entry : mapping_) {
      if (entry.first == window) {
        entry.second = state;
        return;
      }
    }
    mapping_.emplace_back(window, state);
  }

  std::vector<std::pair<W, W>> mapping_;
  bool dirty_ = false;
};

// ---- The operator ----

// What the builder hands the operator.
template <class T, class W>
struct WindowSpec {
  std::shared_ptr<const WindowAssigner<T, W>> assigner;
  std::shared_ptr<const Trigger<T, W>> trigger;  // null: the assigner's default
  std::shared_ptr<const Evictor<T, W>> evictor;  // null: none
  int64_t allowed_lateness = 0;
  std::optional<std::string> late_data_tag;  // side output of late elements
};

template <class Contents>
concept PreAggregating = requires { requires Contents::kPreAggregates; };

template <class Contents>
struct PreAggregateAcc {
  using type = char;  // unused
};
template <PreAggregating Contents>
struct PreAggregateAcc<Contents> {
  using type = typename Contents::Acc;
};

template <class T, class KeySelector, class W, class Contents>
class WindowOperator final : public OneInputOperator<T, typename Contents::output_type>,
                             private Triggerable {
 public:
  using K = ResultOf<KeySelector, const T&>;
  using Out = typename Contents::output_type;

  WindowOperator(WindowSpec<T, W> spec, KeySelector selector, Contents contents)
      : assigner_(std::move(spec.assigner)),
        trigger_(std::move(spec.trigger)),
        allowed_lateness_(spec.allowed_lateness),
        late_tag_(std::move(spec.late_data_tag)),
        selector_(std::move(selector)),
        contents_(std::move(contents)) {
    if (assigner_ == nullptr) throw InvalidJobError("window operator: no window assigner");
    merging_ = dynamic_cast<const MergingWindowAssigner<T, W>*>(assigner_.get());
    event_time_ = assigner_->is_event_time();
    if (trigger_ == nullptr) trigger_ = assigner_->default_trigger();
  }

  void open(RuntimeContext& context) override {
    OperatorBase::open(context);
    backend_ = &context.keyed_state();
    max_parallelism_ = context.max_parallelism();
    // A key group per record is a division unless the key groups are a power of two.
    group_mask_ = std::has_single_bit(static_cast<uint32_t>(max_parallelism_))
                      ? static_cast<uint32_t>(max_parallelism_) - 1
                      : 0;
    timers_ = std::make_unique<InternalTimerService>(kWindowTimers, *backend_,
                                                     context.processing_time_service(),
                                                     static_cast<Triggerable&>(*this));
    trigger_store_ = std::make_unique<KeyedStateStore>(*backend_);
    window_store_ = std::make_unique<KeyedStateStore>(*backend_);
    global_store_ = std::make_unique<KeyedStateStore>(*backend_);
    global_store_->set_namespace(&no_namespace());
    if (merging_ != nullptr) {
      window_store_->set_unsupported(
          "window_state(): per-window state is not allowed when using merging windows");
      merging_state_ =
          &backend_->get_list_state(ListStateDescriptor<std::pair<W, W>>(kMergingWindowSetState));
    }
    collector_.reset(&this->out(), kNoTimestamp);
    contents_.open(context, *backend_);
    restored_ = context.restored_checkpoint_id().has_value();
    opened_ = true;
    if constexpr (PreAggregating<Contents>) {
      // Pre-aggregate where the result cannot tell: event-time windows that do not merge,
      // the default event-time trigger (which only registers the window's end timer and
      // never fires on an element that is on time), no allowed lateness.
      pre_aggregate_ = event_time_ && merging_ == nullptr && allowed_lateness_ == 0 &&
                       dynamic_cast<const TriggerAdapter<T, W, EventTimeTrigger>*>(trigger_.get()) != nullptr;
    }
  }

  void process(T&& value, Timestamp timestamp) override {
    if constexpr (PreAggregating<Contents>) {
      if (pre_aggregate_) {
        pre_aggregate(std::move(value), timestamp);
        return;
      }
    }
    key_.emplace(selector_(std::as_const(value)));
    uint32_t hash = KeyHash<K>{}(*key_);
    // Same as key_group_of(hash, max_parallelism).
    backend_->set_current_key(*key_, group_mask_ != 0 ? static_cast<int>(hash & group_mask_)
                                                      : key_group_of(hash, max_parallelism_));
    key_of_record_ = true;
    windows_.clear();
    assigner_->assign_windows(value, timestamp, assigner_context_, windows_);
    bool handled = merging_ == nullptr ? add_to_windows(value, timestamp)
                                       : add_to_merging_windows(value, timestamp);
    // An element that no window took because all were late.
    if (!handled && is_element_late(timestamp)) {
      if (late_tag_) {
        this->emit_side(*late_tag_, std::move(value), timestamp);
      } else {
        ++this->metrics().records_dropped_late;
      }
    }
  }

  void process_watermark(Timestamp watermark, int) override {
    if constexpr (PreAggregating<Contents>) {
      if (pre_aggregate_) fire_pre_aggregates(watermark);
    }
    timers_->advance_watermark(watermark);
    if (this->output_ != nullptr) this->output_->emit_watermark(watermark);
  }

  void close() override {
    if (opened_) contents_.close();
  }

  // Before the operator's keyed state is snapshotted: everything pre-aggregated goes to
  // keyed state.
  void prepare_snapshot_pre_barrier() override {
    if constexpr (PreAggregating<Contents>) {
      if (pre_aggregate_) flush_pre_aggregates([](const W&) { return true; });
    }
  }

  // Timers, for tests and metrics.
  InternalTimerService& timer_service() { return *timers_; }
  const Trigger<T, W>& trigger() const { return *trigger_; }

  // ---- What the contents and stages use while a window is evaluated (the "scope") ----
  const K& key() {
    if (key_of_record_) return *key_;
    if (!timer_key_) {
      if constexpr (Serializable<K>) {
        timer_key_.emplace(deserialize<K>(backend_->current_key_bytes()));
      } else {
        throw InvalidJobError("window functions that take the key need a serializable key type");
      }
    }
    return *timer_key_;
  }
  const W& window() const { return *fire_window_; }
  ProcessWindowContext<W>& process_context() { return process_context_; }
  EvictorContext& evictor_context() { return evictor_context_; }
  Collector<Out>& collector() { return collector_; }
  void use_namespace(const std::string& ns) {
    if (backend_->current_namespace() != ns) backend_->set_current_namespace(ns);
  }
  void enter_contents() { use_namespace(*contents_ns_); }

 private:
  // The pre-aggregating path of process(): what add_to_windows() does for the default
  // event-time trigger, with the reduction kept in memory until the next flush. The
  // window's end timer (which is also its cleanup timer) is registered when the window
  // first gets an element from this buffer.
  void pre_aggregate(T&& value, Timestamp timestamp) {
    windows_.clear();
    assigner_->assign_windows(value, timestamp, assigner_context_, windows_);
    bool handled = false;
    const K& key = selector_(std::as_const(value));
    for (const W& window : windows_) {
      if (is_window_late(window)) continue;
      handled = true;
      auto& buffer = pre_aggregates_.window(window, [](std::string& out, const W& w) { write_namespace(out, w); });
      if (auto* acc = buffer.entries.find(key)) {
        contents_.fold(*acc, value);
        continue;
      }
      buffer.entries.insert(key, value);
      pre_aggregates_.note_inserted();
    }
    if (!handled && is_element_late(timestamp)) {
      if (late_tag_) {
        this->emit_side(*late_tag_, std::move(value), timestamp);
      } else {
        ++this->metrics().records_dropped_late;
      }
    }
    if (pre_aggregates_.over_limit()) flush_pre_aggregates([](const W&) { return true; });
  }

  // Moves the buffered reductions of the windows `select` picks into keyed state, each
  // with its window's end timer (also its cleanup timer), which then fires it as if it
  // had never been buffered.
  template <class Select>
  void flush_pre_aggregates(Select select) {
    pre_aggregates_.flush_if(select, [this](auto& buffer) {
      key_of_record_ = true;
      contents_ns_ = &buffer.ns;
      if (std::find(windows_in_state_.begin(), windows_in_state_.end(), buffer.window) == windows_in_state_.end()) {
        windows_in_state_.push_back(buffer.window);
      }
      buffer.entries.for_each([&](const K& key, auto& acc) {
        set_key(key);
        if constexpr (PreAggregating<Contents>) contents_.add_accumulated(*this, std::move(acc));
        timers_->register_event_time_timer(buffer.ns, buffer.window.max_timestamp());
      });
    });
  }

  // The watermark fires the buffered windows it passes. A window none of whose elements
  // reached keyed state is emitted straight from the buffer (when the window function
  // allows); otherwise, or when any window is in keyed state, the buffers go to keyed
  // state and the timers fire them in time order.
  // After a restore, keyed state may hold any window, so windows are never emitted
  // straight from the buffer (restored_).
  void fire_pre_aggregates(Timestamp watermark) {
    auto due = [watermark](const W& w) { return w.max_timestamp() <= watermark; };
    if constexpr (PreAggregating<Contents>) {
      if constexpr (Contents::kEmitsDirectly) {
        if (windows_in_state_.empty() && !restored_) {
          pre_aggregates_.flush_if(due, [this](auto& buffer) {
            key_of_record_ = true;
            fire_window_ = &buffer.window;
            collector_.set_timestamp(buffer.window.max_timestamp());
            buffer.entries.for_each([&](const K& key, auto& acc) {
              key_.emplace(key);
              contents_.emit_accumulated(*this, std::move(acc));
            });
          });
          return;
        }
      }
    }
    flush_pre_aggregates(due);
    std::erase_if(windows_in_state_, due);
  }

  void set_key(const K& key) {
    uint32_t hash = KeyHash<K>{}(key);
    backend_->set_current_key(key, group_mask_ != 0 ? static_cast<int>(hash & group_mask_)
                                                    : key_group_of(hash, max_parallelism_));
  }

  // Flink's Context: the trigger's view of the current key and window.
  class TriggerContextImpl final : public OnMergeContext {
   public:
    explicit TriggerContextImpl(WindowOperator& op) : op_(op) {}
    void enter(const std::string& ns) {
      ns_ = &ns;
      op_.trigger_store_->set_namespace(&ns);
    }
    Timestamp current_processing_time() const override {
      return op_.timers_->current_processing_time();
    }
    Timestamp current_watermark() const override { return op_.timers_->current_watermark(); }
    void register_event_time_timer(Timestamp time) override {
      if (op_.event_time_ && op_.is_known_cleanup_timer(time)) return;
      op_.timers_->register_event_time_timer(*ns_, time);
    }
    void register_processing_time_timer(Timestamp time) override {
      if (!op_.event_time_ && op_.is_known_cleanup_timer(time)) return;
      op_.timers_->register_processing_time_timer(*ns_, time);
    }
    void delete_event_time_timer(Timestamp time) override {
      op_.note_timer_deleted();
      op_.timers_->delete_event_time_timer(*ns_, time);
    }
    void delete_processing_time_timer(Timestamp time) override {
      op_.note_timer_deleted();
      op_.timers_->delete_processing_time_timer(*ns_, time);
    }
    const std::vector<std::string>* merged = nullptr;

   protected:
    KeyedStateStore& partitioned_state() override { return *op_.trigger_store_; }
    KeyedStateBackend& backend() override { return *op_.backend_; }
    const std::vector<std::string>& merged_namespaces() const override {
      static const std::vector<std::string> none;
      return merged != nullptr ? *merged : none;
    }
    const std::string& target_namespace() const override { return *ns_; }

   private:
    WindowOperator& op_;
    const std::string* ns_ = nullptr;
  };

  class ProcessContextImpl final : public ProcessWindowContext<W> {
   public:
    explicit ProcessContextImpl(WindowOperator& op) : op_(op) {}
    const W& window() const override { return *op_.fire_window_; }
    Timestamp current_processing_time() const override {
      return op_.timers_->current_processing_time();
    }
    Timestamp current_watermark() const override { return op_.timers_->current_watermark(); }
    KeyedStateStore& window_state() override { return *op_.window_store_; }
    KeyedStateStore& global_state() override { return *op_.global_store_; }

   protected:
    OutputBase* side_output(const std::string& tag) override { return op_.side_output(tag); }

   private:
    WindowOperator& op_;
  };

  class EvictorContextImpl final : public EvictorContext {
   public:
    explicit EvictorContextImpl(WindowOperator& op) : op_(op) {}
    Timestamp current_processing_time() const override {
      return op_.timers_->current_processing_time();
    }
    Timestamp current_watermark() const override { return op_.timers_->current_watermark(); }

   private:
    WindowOperator& op_;
  };

  class AssignerContextImpl final : public WindowAssignerContext {
   public:
    explicit AssignerContextImpl(WindowOperator& op) : op_(op) {}
    Timestamp current_processing_time() const override {
      return op_.timers_->current_processing_time();
    }

   private:
    WindowOperator& op_;
  };

  // The serialized form of the window at one position of the assigned windows, kept while
  // records keep landing in the same window.
  struct CachedNamespace {
    std::optional<W> window;
    std::string bytes;
  };

  const std::string& namespace_of(CachedNamespace& cached, const W& window) {
    if (!cached.window || !(*cached.window == window)) {
      write_namespace(cached.bytes, window);
      cached.window = window;
    }
    return cached.bytes;
  }

  bool add_to_windows(const T& value, Timestamp timestamp) {
    bool handled = false;
    if (namespaces_.size() < windows_.size()) namespaces_.resize(windows_.size());
    for (size_t i = 0; i < windows_.size(); ++i) {
      const W& window = windows_[i];
      if (is_window_late(window)) continue;
      handled = true;
      const std::string& ns = namespace_of(namespaces_[i], window);
      contents_ns_ = &ns;
      bool existed = contents_.add(*this, value, timestamp);
      TriggerResult result = trigger_on_element(value, timestamp, window, ns, existed);
      if (is_fire(result)) fire(window, ns);
      if (is_purge(result)) contents_.clear(*this);
      // While the window has contents, its cleanup timer is registered.
      if (!(existed && cleanup_timers_tracked_)) register_cleanup_timer(window, ns);
    }
    return handled;
  }

  bool add_to_merging_windows(const T& value, Timestamp timestamp) {
    load_merging_set();
    bool handled = false;
    for (const W& window : windows_) {
      const W& actual = merged_window_.emplace(merging_set_.add_window(
          window, *merging_,
          [this](const W& result, const std::vector<W>& merged, const W& state_result,
                 const std::vector<W>& merged_state) {
            merge_windows(result, merged, state_result, merged_state);
          }));
      if (is_window_late(actual)) {
        merging_set_.retire_window(actual);
        continue;
      }
      handled = true;
      const W* state_window = merging_set_.state_window(actual);
      if (state_window == nullptr) {
        throw std::logic_error("window " + window_string(actual) +
                               " is not in the in-flight window set");
      }
      write_namespace(state_ns_, *state_window);
      write_namespace(window_ns_, actual);
      contents_ns_ = &state_ns_;
      contents_.add(*this, value, timestamp);
      TriggerResult result = trigger_on_element(value, timestamp, actual, window_ns_, false);
      if (is_fire(result)) fire(actual, window_ns_);
      if (is_purge(result)) contents_.clear(*this);
      register_cleanup_timer(actual, window_ns_);
    }
    persist_merging_set();
    return handled;
  }

  // `merged` windows become `result`; the contents of `merged_state` windows move into
  // `state_result`'s (as Flink's WindowOperator merge function).
  void merge_windows(const W& result, const std::vector<W>& merged, const W& state_result,
                     const std::vector<W>& merged_state) {
    if (event_time_) {
      Timestamp watermark = timers_->current_watermark();
      if (saturating_add(result.max_timestamp(), allowed_lateness_) <= watermark) {
        throw Error(
            "The end timestamp of an event-time window cannot become earlier than the current "
            "watermark "
            "by merging. Current watermark: " +
            std::to_string(watermark) + " window: " + window_string(result));
      }
    } else {
      Timestamp now = timers_->current_processing_time();
      if (result.max_timestamp() <= now) {
        throw Error(
            "The end timestamp of a processing-time window cannot become earlier than the current "
            "processing time by merging. Current processing time: " +
            std::to_string(now) + " window: " + window_string(result));
      }
    }
    std::string result_ns;
    write_namespace(result_ns, result);
    std::vector<std::string> merged_ns(merged.size());
    for (size_t i = 0; i < merged.size(); ++i) write_namespace(merged_ns[i], merged[i]);

    trigger_context_.enter(result_ns);
    trigger_context_.merged = &merged_ns;
    trigger_->on_merge(result, trigger_context_);
    trigger_context_.merged = nullptr;
    for (size_t i = 0; i < merged.size(); ++i) {
      trigger_context_.enter(merged_ns[i]);
      clear_trigger(merged[i]);
      delete_cleanup_timer(merged[i], merged_ns[i]);
    }

    std::string target;
    write_namespace(target, state_result);
    std::vector<std::string> sources(merged_state.size());
    for (size_t i = 0; i < merged_state.size(); ++i) write_namespace(sources[i], merged_state[i]);
    contents_.merge(*this, target, sources);
  }

  TriggerResult trigger_on_element(const T& value, Timestamp timestamp, const W& window,
                                   const std::string& ns, bool existed) {
    trigger_context_.enter(ns);
    if (existed) {
      known_cleanup_time_ = cleanup_time(window);
      known_cleanup_armed_ = known_cleanup_time_ != kMaxWatermark;
    }
    TriggerResult result = trigger_->on_element(value, timestamp, window, trigger_context_);
    known_cleanup_armed_ = false;
    return result;
  }

  void on_event_time(const InternalTimer& timer) override { on_timer(timer, true); }
  void on_processing_time(const InternalTimer& timer) override { on_timer(timer, false); }

  void on_timer(const InternalTimer& timer, bool event_time) {
    key_of_record_ = false;
    timer_key_.reset();
    timer_ns_.assign(timer.ns);
    timer_window_.emplace(deserialize<W>(timer_ns_));
    const W& window = *timer_window_;
    contents_ns_ = &timer_ns_;
    if (merging_ != nullptr) {
      load_merging_set();
      const W* state_window = merging_set_.state_window(window);
      // A timer of a window that is gone (a trigger that did not delete its timers).
      if (state_window == nullptr) return;
      write_namespace(state_ns_, *state_window);
      contents_ns_ = &state_ns_;
    }
    trigger_context_.enter(timer_ns_);
    TriggerResult result = event_time
                               ? trigger_->on_event_time(timer.time, window, trigger_context_)
                               : trigger_->on_processing_time(timer.time, window, trigger_context_);
    if (is_fire(result)) fire(window, timer_ns_);
    if (is_purge(result)) contents_.clear(*this);
    if (event_time == event_time_ && timer.time == cleanup_time(window))
      clear_all_state(window, timer_ns_);
    if (merging_ != nullptr) persist_merging_set();
  }

  void fire(const W& window, const std::string& window_ns) {
    fire_window_ = &window;
    window_store_->set_namespace(&window_ns);
    collector_.set_timestamp(window.max_timestamp());
    contents_.fire(*this);
  }

  // The window's cleanup time has come: its contents, trigger state and window state go.
  void clear_all_state(const W& window, const std::string& window_ns) {
    contents_.clear(*this);
    trigger_context_.enter(window_ns);
    clear_trigger(window);
    fire_window_ = &window;
    window_store_->set_namespace(&window_ns);
    contents_.clear_function(*this);
    if (merging_ != nullptr) merging_set_.retire_window(window);
  }

  void clear_trigger(const W& window) {
    clearing_ = true;
    try {
      trigger_->clear(window, trigger_context_);
    } catch (...) {
      clearing_ = false;
      throw;
    }
    clearing_ = false;
  }

  Timestamp cleanup_time(const W& window) const {
    if (!event_time_) return window.max_timestamp();
    return saturating_add(window.max_timestamp(), allowed_lateness_);
  }
  bool is_window_late(const W& window) const {
    return event_time_ && cleanup_time(window) <= timers_->current_watermark();
  }
  bool is_element_late(Timestamp timestamp) const {
    return event_time_ &&
           saturating_add(timestamp, allowed_lateness_) <= timers_->current_watermark();
  }

  void register_cleanup_timer(const W& window, const std::string& ns) {
    Timestamp time = cleanup_time(window);
    if (time == kMaxWatermark) return;  // no cleanup at the end of time
    if (event_time_) {
      timers_->register_event_time_timer(ns, time);
    } else {
      timers_->register_processing_time_timer(ns, time);
    }
  }
  void delete_cleanup_timer(const W& window, const std::string& ns) {
    Timestamp time = cleanup_time(window);
    if (time == kMaxWatermark) return;
    if (event_time_) {
      timers_->delete_event_time_timer(ns, time);
    } else {
      timers_->delete_processing_time_timer(ns, time);
    }
  }

  // Whether a timer the trigger registers now is the current window's cleanup timer, which
  // is known to be registered (the window had contents).
  bool is_known_cleanup_timer(Timestamp time) const {
    return known_cleanup_armed_ && cleanup_timers_tracked_ && time == known_cleanup_time_;
  }
  // A trigger deleted a timer other than while being cleared: it may have been a cleanup
  // timer, so stop assuming that windows with contents have theirs.
  void note_timer_deleted() {
    if (!clearing_) cleanup_timers_tracked_ = false;
  }

  void load_merging_set() {
    use_namespace(no_namespace());
    merging_set_.load(*merging_state_);
  }
  void persist_merging_set() {
    use_namespace(no_namespace());
    merging_set_.persist(*merging_state_);
  }

  std::shared_ptr<const WindowAssigner<T, W>> assigner_;
  const MergingWindowAssigner<T, W>* merging_ = nullptr;
  std::shared_ptr<const Trigger<T, W>> trigger_;
  int64_t allowed_lateness_;
  std::optional<std::string> late_tag_;
  KeySelector selector_;
  Contents contents_;
  bool pre_aggregate_ = false;
  // Windows some of whose buffered reductions were moved to keyed state and that have not
  // fired yet (their timers fire them).
  std::vector<W> windows_in_state_;
  bool restored_ = false;  // started from a checkpoint: restored windows may be in keyed state
  PreAggregationBuffer<K, W, typename PreAggregateAcc<Contents>::type> pre_aggregates_;
  bool event_time_ = true;
  bool opened_ = false;

  KeyedStateBackend* backend_ = nullptr;
  int max_parallelism_ = kDefaultMaxParallelism;
  uint32_t group_mask_ = 0;
  std::unique_ptr<InternalTimerService> timers_;
  std::unique_ptr<KeyedStateStore> trigger_store_;
  std::unique_ptr<KeyedStateStore> window_store_;
  std::unique_ptr<KeyedStateStore> global_store_;
  ListState<std::pair<W, W>>* merging_state_ = nullptr;
  MergingWindowSet<W> merging_set_;

  TriggerContextImpl trigger_context_{*this};
  ProcessContextImpl process_context_{*this};
  EvictorContextImpl evictor_context_{*this};
  AssignerContextImpl assigner_context_{*this};
  TimestampedCollector<Out> collector_;

  std::optional<K> key_;        // of the current record
  std::optional<K> timer_key_;  // of the firing timer, deserialized when asked for
  bool key_of_record_ = false;
  std::vector<W> windows_;                   // assigned to the current record
  std::vector<CachedNamespace> namespaces_;  // their namespaces
  std::string timer_ns_;                     // of the firing timer's window
  std::string state_ns_;                     // of a merging window's state window
  std::string window_ns_;                    // of a merging window
  const std::string* contents_ns_ = &no_namespace();
  const W* fire_window_ = nullptr;  // the window being evaluated or cleared
  std::optional<W> timer_window_;   // of the firing timer
  std::optional<W> merged_window_;  // the (merging) window an element went into

  bool cleanup_timers_tracked_ = true;  // see note_timer_deleted()
  bool clearing_ = false;
  bool known_cleanup_armed_ = false;
  Timestamp known_cleanup_time_ = kMaxWatermark;
};

// ---- The builder ----

// Collects a window's settings and makes its operator for a window function (Flink's
// WindowOperatorBuilder). Copyable: WindowedStream keeps one per transformation and makes
// an operator per subtask.
template <class T, class KeySelector, class W>
class WindowOperatorBuilder {
 public:
  using K = ResultOf<KeySelector, const T&>;

  WindowOperatorBuilder(std::shared_ptr<const WindowAssigner<T, W>> assigner, KeySelector selector)
      : selector_(std::move(selector)) {
    spec_.assigner = std::move(assigner);
  }

  template <class X>
  void set_trigger(X trigger) {
    auto shared = make_trigger<T, W>(std::move(trigger));
    if (is_merging() && !shared->can_merge()) {
      throw InvalidJobError(
          "A merging window assigner cannot be used with a trigger that does not support merging.");
    }
    spec_.trigger = std::move(shared);
  }
  template <class X>
  void set_evictor(X evictor) {
    spec_.evictor = make_evictor<T, W>(std::move(evictor));
  }
  void set_allowed_lateness(int64_t ms) {
    if (ms < 0) throw InvalidJobError("The allowed lateness cannot be negative.");
    spec_.allowed_lateness = ms;
  }
  void set_late_data_tag(std::string tag) { spec_.late_data_tag = std::move(tag); }

  bool is_merging() const {
    return dynamic_cast<const MergingWindowAssigner<T, W>*>(spec_.assigner.get()) != nullptr;
  }
  const WindowSpec<T, W>& spec() const { return spec_; }
  const KeySelector& key_selector() const { return selector_; }

  // "Window(TumblingEventTimeWindows(5000), EventTimeTrigger(), Reduce)", as Flink names it.
  std::string name(const std::string& function) const {
    std::string trigger = spec_.trigger != nullptr ? spec_.trigger->to_string()
                                                   : spec_.assigner->default_trigger()->to_string();
    std::string name = spec_.evictor != nullptr ? "EvictingWindow(" : "Window(";
    return name + spec_.assigner->to_string() + ", " + trigger + ", " + function + ")";
  }

  // reduce(fn): T.
  template <class F>
  std::unique_ptr<OperatorBase> reduce(F fn) const {
    return reduce_with(std::move(fn), PassThroughStage<T>{});
  }
  // reduce(fn, window_fn): the window function's output.
  template <class F, class PWF>
  std::unique_ptr<OperatorBase> reduce(F fn, PWF window_fn) const {
    return reduce_with(std::move(fn), ProcessStage<PWF>(std::move(window_fn)));
  }
  template <class Agg>
  std::unique_ptr<OperatorBase> aggregate(const Agg& agg) const {
    return aggregate_with(agg, PassThroughStage<AggregateResultOf<Agg>>{});
  }
  template <class Agg, class PWF>
  std::unique_ptr<OperatorBase> aggregate(const Agg& agg, const PWF& window_fn) const {
    return aggregate_with(agg, ProcessStage<PWF>(window_fn));
  }
  template <class PWF>
  std::unique_ptr<OperatorBase> process(const PWF& window_fn) const {
    ProcessStage<PWF> stage(window_fn);
    if (spec_.evictor != nullptr) {
      return make(EvictingContents<T, W, ApplyAll<T>, ProcessStage<PWF>>(spec_.evictor,
                                                                         ApplyAll<T>{}, stage));
    }
    return make(ListContents<T, ProcessStage<PWF>>(stage));
  }

 private:
  template <class F, class Stage>
  std::unique_ptr<OperatorBase> reduce_with(F fn, Stage stage) const {
    static_assert(std::is_convertible_v<decltype(call_reduce(std::declval<F&>(), std::declval<T>(),
                                                             std::declval<const T&>())),
                                        T>,
                  "reduce(): the function must combine two records into one of the same type");
    if (spec_.evictor != nullptr) {
      using Apply = ApplyReduce<T, F>;
      return make(EvictingContents<T, W, Apply, Stage>(spec_.evictor, Apply{std::move(fn)},
                                                       std::move(stage)));
    }
    return make(ReduceContents<T, F, Stage>(std::move(fn), std::move(stage)));
  }
  template <class Agg, class Stage>
  std::unique_ptr<OperatorBase> aggregate_with(const Agg& agg, Stage stage) const {
    if (spec_.evictor != nullptr) {
      using Apply = ApplyAggregate<T, Agg>;
      return make(
          EvictingContents<T, W, Apply, Stage>(spec_.evictor, Apply{agg}, std::move(stage)));
    }
    return make(AggregateContents<T, Agg, Stage>(agg, std::move(stage)));
  }
  template <class Contents>
  std::unique_ptr<OperatorBase> make(Contents contents) const {
    return std::make_unique<WindowOperator<T, KeySelector, W, Contents>>(spec_, selector_,
                                                                         std::move(contents));
  }

  KeySelector selector_;
  WindowSpec<T, W> spec_;
};

}  // namespace eddy::internal
