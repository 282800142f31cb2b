// Not API: how the heap backend holds one state value inside its hash maps, so that a
// snapshot's copy of a map is cheap whatever the values are.
//
// A snapshot freezes the maps of every key group; the first write to a frozen key group
// copies that group's map (heap_state.h). Copying a map copies its values. For a
// trivially copyable value (a count, a POD accumulator) that is a memcpy, and the value is
// kept inline. Any other value (a string, a list, a map, a struct holding those) is kept
// in a reference-counted node instead, so the copy shares the nodes and costs a counter
// increment per entry; a write to a shared node copies that one value first
// (copy-on-write per entry). Without this, each checkpoint of 1 GB of string state copied
// the whole 1 GB on the task thread.
//
// Contract: get() may be called from any thread that holds a copy; mut() and set() only
// from the thread that owns the map the slot is in (the task's thread), and never on a
// slot of a frozen map. The counter is atomic because a snapshot drops its copies on the
// thread that wrote it.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace eddy::internal {

// A value held inline: trivially copyable types.
template <class S>
class InlineSlotValue {
 public:
  const S& get() const { return value_; }
  S& mut() { return value_; }
  void set(S value) { value_ = std::move(value); }
  static constexpr size_t node_bytes() { return 0; }
  bool allocated() const { return false; }
  static constexpr bool kHasNode = false;
  const void* node_address() const { return nullptr; }

 private:
  S value_{};
};

// A value held in a shared node, copied on the first write after being shared. A slot
// that never had a value holds no node (empty buckets of a map cost nothing); get() then
// returns a default-constructed S.
template <class S>
class SharedSlotValue {
  struct Node {
    explicit Node(S v) : value(std::move(v)) {}
    std::atomic<uint32_t> refs{1};
    S value;
  };

 public:
  SharedSlotValue() = default;
  SharedSlotValue(const SharedSlotValue& other) : node_(other.node_) {
    if (node_ != nullptr) node_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedSlotValue(SharedSlotValue&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {}
  SharedSlotValue& operator=(const SharedSlotValue& other) {
    if (this != &other) {
      SharedSlotValue copy(other);
      swap(copy);
    }
    return *this;
  }
  SharedSlotValue& operator=(SharedSlotValue&& other) noexcept {
    if (this != &other) {
      release();
      node_ = std::exchange(other.node_, nullptr);
    }
    return *this;
  }
  ~SharedSlotValue() { release(); }

  const S& get() const { return node_ != nullptr ? node_->value : empty(); }
  // The value for writing: this slot's own node (allocated, or copied when shared).
  S& mut() {
    if (node_ == nullptr) {
      node_ = new Node(S{});
    } else if (node_->refs.load(std::memory_order_acquire) != 1) {
      Node* copy = new Node(node_->value);
      release();
      node_ = copy;
    }
    return node_->value;
  }
  void set(S value) {
    if (node_ != nullptr && node_->refs.load(std::memory_order_acquire) == 1) {
      node_->value = std::move(value);
      return;
    }
    release();
    node_ = new Node(std::move(value));
  }
  static constexpr size_t node_bytes() { return sizeof(Node); }
  bool allocated() const { return node_ != nullptr; }
  static constexpr bool kHasNode = true;
  // Where the value lives (null when none), for prefetching.
  const void* node_address() const { return node_; }

 private:
  static const S& empty() {
    static const S instance{};
    return instance;
  }
  void swap(SharedSlotValue& other) noexcept { std::swap(node_, other.node_); }
  void release() noexcept {
    if (node_ != nullptr && node_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete node_;
    node_ = nullptr;
  }

  Node* node_ = nullptr;
};

template <class S>
using SlotValue = std::conditional_t<std::is_trivially_copyable_v<S>, InlineSlotValue<S>, SharedSlotValue<S>>;

}  // namespace eddy::internal
