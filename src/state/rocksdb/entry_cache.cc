#include "state/rocksdb/entry_cache.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "eddy/internal/bucket_memory.h"
#include "eddy/key.h"

namespace eddy::state {

namespace {

constexpr uint8_t kUsed = 1;
constexpr uint8_t kAbsent = 2;      // the store holds nothing for the key
constexpr uint8_t kReferenced = 4;  // used since a sweep last passed
constexpr uint8_t kOutOfLine = 8;   // key and value in an allocation of their own

constexpr size_t kInlineBytes = 35;
// The first table; it doubles from there.
constexpr size_t kInitialSlots = 1024;
// Entries per slot at most (linear probing: a miss looks at about 13 slots at 0.8, a hit
// at 3), before the table grows or, when it cannot, an entry is evicted.
constexpr size_t max_entries(size_t capacity) { return capacity - capacity / 5; }
// What malloc adds to an allocation, roughly: counted with out-of-line entries.
constexpr size_t kAllocationOverhead = 16;
// Tables of this size and more are aligned to, and ask for, transparent huge pages: a table
// of a million entries spans 64 MiB, and every access to it is at a random place.
constexpr size_t kHugePage = 2 << 20;
// Slots a sweep looks at, at most, per insertion when entries out of line put the
// shared budget over its limit: insertions stay cheap when few entries are out of line.
constexpr size_t kMaxBudgetSweep = 1024;

struct OutOfLine {
  char* data;  // key then value, malloc'ed
  uint32_t key_size;
  uint32_t value_size;
};

}  // namespace

struct EntryCache::Slot {
  uint32_t hash;    // the high 32 bits of the key's hash: its home slot, a first comparison
  uint32_t epoch;   // of the entry's latest write: dirty while it equals EntryCache::epoch_
  uint16_t column;
  uint8_t flags;
  uint8_t key_size;    // inline entries
  uint8_t value_size;  // inline entries
  char bytes[kInlineBytes];  // inline: key then value; out of line: an OutOfLine

  OutOfLine out_of_line() const {
    OutOfLine o;
    std::memcpy(&o, bytes, sizeof o);
    return o;
  }
  std::string_view key() const {
    if (flags & kOutOfLine) {
      OutOfLine o = out_of_line();
      return {o.data, o.key_size};
    }
    return {bytes, key_size};
  }
  std::string_view value() const {
    if (flags & kOutOfLine) {
      OutOfLine o = out_of_line();
      return {o.data + o.key_size, o.value_size};
    }
    return {bytes + key_size, value_size};
  }
};
static_assert(sizeof(OutOfLine) <= kInlineBytes);

struct EntryCache::Probe {
  uint32_t hash;
  size_t index;  // of the entry, or of the free slot where it would go
  bool found;
};

namespace {

uint32_t hash_of(int column, std::string_view key) {
  uint64_t h = hash_bytes64(key.data(), key.size()) ^
               ((static_cast<uint64_t>(column) + 1) * 0x9e3779b97f4a7c15ULL);
  return static_cast<uint32_t>(h >> 32);
}

}  // namespace

size_t EntryCache::table_bytes_for(size_t slots) {
  size_t bytes = slots * sizeof(EntryCache::Slot);
  return bytes >= kHugePage ? (bytes + kHugePage - 1) / kHugePage * kHugePage : bytes;
}

// Tables come from the heap backend's bucket memory (internal/bucket_memory.h): those of
// kHugePage and more (table_bytes_for rounds them to whole huge pages) are mappings of
// their own on transparent huge pages, handed out zeroed by the kernel, so they need no
// memset (which touched every page twice, at 64 MiB 5% of a million updates).
EntryCache::Slot* EntryCache::allocate_table(size_t slots) {
  return static_cast<Slot*>(internal::allocate_zeroed_bucket_memory(table_bytes_for(slots), alignof(Slot)));
}

void EntryCache::free_table(Slot* table, size_t slots) {
  internal::free_bucket_memory(table, table_bytes_for(slots), alignof(Slot));
}

EntryCache::EntryCache(std::shared_ptr<EntryCacheBudget> budget) : budget_(std::move(budget)) {
  // 48 bytes: four slots in three cache lines; a million entries in 64 MiB at a load of 0.75.
  static_assert(sizeof(Slot) == 48);
}

EntryCache::~EntryCache() { clear(); }

void EntryCache::account(std::ptrdiff_t delta) {
  if (delta >= 0) {
    budget_->used.fetch_add(static_cast<size_t>(delta), std::memory_order_relaxed);
  } else {
    budget_->used.fetch_sub(static_cast<size_t>(-delta), std::memory_order_relaxed);
  }
}

EntryCache::Probe EntryCache::locate(int column, std::string_view key) const {
  const uint32_t hash = hash_of(column, key);
  if (capacity_ == 0) return {hash, 0, false};
  size_t i = (static_cast<uint64_t>(hash) * capacity_) >> 32;
  for (;;) {  // the table is never full: max_entries() < capacity_
    const Slot& slot = slots_[i];
    if (!(slot.flags & kUsed)) return {hash, i, false};
    if (slot.hash == hash && slot.column == column && slot.key() == key) return {hash, i, true};
    if (++i == capacity_) i = 0;
  }
}

EntryCache::Found EntryCache::find(int column, std::string_view key, std::string& value) {
  Probe probe = locate(column, key);
  if (!probe.found) return Found::kMiss;
  Slot& slot = slots_[probe.index];
  slot.flags |= kReferenced;
  if (slot.flags & kAbsent) return Found::kAbsent;
  std::string_view bytes = slot.value();
  value.assign(bytes.data(), bytes.size());
  return Found::kValue;
}

void EntryCache::prefetch(int column, std::string_view key) const {
  if (capacity_ == 0) return;
  const uint32_t hash = hash_of(column, key);
  const Slot* slot = &slots_[(static_cast<uint64_t>(hash) * capacity_) >> 32];
  __builtin_prefetch(slot, 1);
  __builtin_prefetch(reinterpret_cast<const char*>(slot) + sizeof(Slot) - 1, 1);
}

void EntryCache::set_complete(int column) {
  if (column < 0 || column > kMaxColumns) return;
  if (complete_.size() <= static_cast<size_t>(column)) complete_.resize(static_cast<size_t>(column) + 1);
  complete_[static_cast<size_t>(column)] = true;
}

void EntryCache::fill(int column, std::string_view key, const std::string_view* value) {
  if (column > kMaxColumns || key.size() + (value ? value->size() : 0) > kMaxEntryBytes) return;
  Probe probe = locate(column, key);
  if (probe.found) {
    if (slots_[probe.index].epoch == epoch_) return;  // a pending write is newer
  } else {
    if (!make_room()) return;
    probe = locate(column, key);
  }
  assign(probe.index, probe, column, key, value);
  slots_[probe.index].epoch = 0;  // clean: never equal to epoch_
  shrink_to_budget();
}

EntryCache::WriteResult EntryCache::write(int column, std::string_view key, const std::string_view* value) {
  if (column > kMaxColumns || key.size() + (value ? value->size() : 0) > kMaxEntryBytes) {
    erase(column, key);
    return WriteResult::kNotCached;
  }
  Probe probe = locate(column, key);
  if (!probe.found) {
    if (!make_room()) {
      if (capacity_ > 0) return WriteResult::kFull;
      set_incomplete(column);
      return WriteResult::kNotCached;
    }
    probe = locate(column, key);
  }
  bool was_dirty = probe.found && slots_[probe.index].epoch == epoch_;
  assign(probe.index, probe, column, key, value);
  slots_[probe.index].epoch = epoch_;
  if (!was_dirty) ++dirty_;
  shrink_to_budget();
  return WriteResult::kCached;
}

void EntryCache::assign(size_t index, const Probe& probe, int column, std::string_view key,
                        const std::string_view* value) {
  const size_t value_size = value ? value->size() : 0;
  const size_t total = key.size() + value_size;
  OutOfLine o{nullptr, static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value_size)};
  if (total > kInlineBytes) {  // allocated first: a failure leaves the table as it was
    o.data = static_cast<char*>(std::malloc(total));
    if (o.data == nullptr) throw std::bad_alloc();
    std::memcpy(o.data, key.data(), key.size());
    if (value_size > 0) std::memcpy(o.data + key.size(), value->data(), value_size);
  }
  Slot& slot = slots_[index];
  if (probe.found) {
    release_value(slot);
  } else {
    ++used_;
  }
  slot.hash = probe.hash;
  slot.column = static_cast<uint16_t>(column);
  slot.flags = static_cast<uint8_t>(kUsed | kReferenced | (value ? 0 : kAbsent));
  if (o.data == nullptr) {
    slot.key_size = static_cast<uint8_t>(key.size());
    slot.value_size = static_cast<uint8_t>(value_size);
    std::memcpy(slot.bytes, key.data(), key.size());
    if (value_size > 0) std::memcpy(slot.bytes + key.size(), value->data(), value_size);
    return;
  }
  std::memcpy(slot.bytes, &o, sizeof o);
  slot.key_size = 0;
  slot.value_size = 0;
  slot.flags |= kOutOfLine;
  ++out_of_line_;
  out_of_line_bytes_ += total + kAllocationOverhead;
  account(static_cast<std::ptrdiff_t>(total + kAllocationOverhead));
}

void EntryCache::release_value(Slot& slot) {
  if (!(slot.flags & kOutOfLine)) return;
  OutOfLine o = slot.out_of_line();
  const size_t bytes = o.key_size + o.value_size + kAllocationOverhead;
  std::free(o.data);
  slot.flags &= static_cast<uint8_t>(~kOutOfLine);
  --out_of_line_;
  out_of_line_bytes_ -= bytes;
  account(-static_cast<std::ptrdiff_t>(bytes));
}

void EntryCache::mark_clean() {
  dirty_ = 0;
  if (++epoch_ != 0) return;
  // Wrapped (after 2^32 batches): no slot may keep an epoch that a later batch reuses.
  for (size_t i = 0; i < capacity_; ++i) slots_[i].epoch = 0;
  epoch_ = 1;
}

bool EntryCache::make_room() {
  if (capacity_ > 0 && used_ < max_entries(capacity_)) return true;
  if (grow()) return true;
  if (capacity_ == 0) return false;
  return evict_one(/*out_of_line_only=*/false);
}

bool EntryCache::grow() {
  // The table's bytes are reserved in the shared budget before they are allocated, so that
  // caches growing at the same time on other threads cannot overshoot it together.
  size_t used = budget_->used.load(std::memory_order_relaxed);
  size_t target = 0;
  size_t delta = 0;
  do {
    const size_t available = table_bytes_ + (used < budget_->limit ? budget_->limit - used : 0);
    target = capacity_ == 0 ? kInitialSlots : capacity_ * 2;
    if (table_bytes_for(target) > available) {  // the largest table the budget allows
      target = available >= kHugePage ? available / kHugePage * kHugePage / sizeof(Slot)
                                      : available / sizeof(Slot);
    }
    // Growing by less than an eighth costs a rehash for little room.
    if (target < kInitialSlots || target < capacity_ + capacity_ / 8) return false;
    delta = table_bytes_for(target) - table_bytes_;
  } while (!budget_->used.compare_exchange_weak(used, used + delta, std::memory_order_relaxed));
  try {
    rehash(target);
  } catch (...) {
    account(-static_cast<std::ptrdiff_t>(delta));
    throw;
  }
  return true;
}

void EntryCache::rehash(size_t new_capacity) {
  Slot* table = allocate_table(new_capacity);
  for (size_t i = 0; i < capacity_; ++i) {
    const Slot& slot = slots_[i];
    if (!(slot.flags & kUsed)) continue;
    size_t j = (static_cast<uint64_t>(slot.hash) * new_capacity) >> 32;
    while (table[j].flags & kUsed) {
      if (++j == new_capacity) j = 0;
    }
    table[j] = slot;
  }
  free_table(slots_, capacity_);
  slots_ = table;
  capacity_ = new_capacity;
  table_bytes_ = table_bytes_for(new_capacity);  // already accounted by grow()
}

bool EntryCache::evict_one(bool out_of_line_only) {
  if (used_ <= dirty_ || capacity_ == 0) return false;
  if (out_of_line_only && out_of_line_ == 0) return false;
  // The sweep starts at a random occupied slot. A hand going round, as in CLOCK, empties
  // the slots just behind it while those ahead fill up: in front of it the table was near
  // full, and linear probing walked long runs there (locate() took 60% of bench-checkpoint,
  // whose state evicts all the time). A random slot that may be empty is no better: the
  // sweep then starts at the first entry of a run, the one nearest its home slot, and
  // evicting those leaves the displaced ones (entries were 14 slots from home on average,
  // against 2 for keys spread evenly at this load). Two sweeps at most: the first may
  // only clear reference bits.
  size_t hand = 0;
  for (int attempt = 0; attempt < 64; ++attempt) {
    random_ ^= random_ >> 12;
    random_ ^= random_ << 25;
    random_ ^= random_ >> 27;
    hand = static_cast<size_t>((static_cast<unsigned __int128>(random_ * 0x2545f4914f6cdd1dULL) * capacity_) >> 64);
    if (slots_[hand].flags & kUsed) break;
  }
  const size_t max_steps = out_of_line_only ? kMaxBudgetSweep : 2 * capacity_ + 1;
  for (size_t step = 0; step < max_steps; ++step) {
    Slot& slot = slots_[hand];
    if ((slot.flags & kUsed) && slot.epoch != epoch_ &&
        (!out_of_line_only || (slot.flags & kOutOfLine))) {
      if (slot.flags & kReferenced) {
        slot.flags &= static_cast<uint8_t>(~kReferenced);
      } else {
        // Forgetting an absence loses nothing of what the store holds.
        if (!(slot.flags & kAbsent)) set_incomplete(slot.column);
        remove_at(hand);
        return true;
      }
    }
    if (++hand == capacity_) hand = 0;
  }
  return false;
}

void EntryCache::shrink_to_budget() {
  while (out_of_line_ > 0 && budget_->used.load(std::memory_order_relaxed) > budget_->limit) {
    if (!evict_one(/*out_of_line_only=*/true)) return;
  }
}

// Linear probing without tombstones: the entries after the removed one in its run move
// back into the hole when their home slot allows it.
void EntryCache::remove_at(size_t index) {
  Slot& removed = slots_[index];
  if (removed.epoch == epoch_ && dirty_ > 0) --dirty_;
  release_value(removed);
  --used_;
  size_t hole = index;
  size_t j = index;
  for (;;) {
    if (++j == capacity_) j = 0;
    const Slot& slot = slots_[j];
    if (!(slot.flags & kUsed)) break;
    const size_t home = (static_cast<uint64_t>(slot.hash) * capacity_) >> 32;
    const bool movable = j > hole ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      slots_[hole] = slot;
      hole = j;
    }
  }
  slots_[hole] = Slot{};
}

double EntryCache::mean_displacement() const {
  if (used_ == 0) return 0;
  double total = 0;
  for (size_t i = 0; i < capacity_; ++i) {
    if (!(slots_[i].flags & kUsed)) continue;
    const size_t home = (static_cast<uint64_t>(slots_[i].hash) * capacity_) >> 32;
    total += static_cast<double>(i >= home ? i - home : i + capacity_ - home);
  }
  return total / static_cast<double>(used_);
}

void EntryCache::erase(int column, std::string_view key) {
  set_incomplete(column);
  Probe probe = locate(column, key);
  if (probe.found) remove_at(probe.index);
}

void EntryCache::erase_column(int column) {
  set_incomplete(column);
  for (size_t i = 0; i < capacity_;) {
    const Slot& slot = slots_[i];
    if ((slot.flags & kUsed) && slot.column == column) {
      remove_at(i);  // look at i again: a later entry may have moved back to it
    } else {
      ++i;
    }
  }
}

void EntryCache::clear() {
  complete_.clear();
  for (size_t i = 0; i < capacity_; ++i) release_value(slots_[i]);
  free_table(slots_, capacity_);
  slots_ = nullptr;
  account(-static_cast<std::ptrdiff_t>(table_bytes_));
  table_bytes_ = 0;
  capacity_ = 0;
  used_ = 0;
  dirty_ = 0;
}

}  // namespace eddy::state
