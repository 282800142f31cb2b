// A RocksDB memtable representation for the columns that the entry cache serves (value,
// reducing and aggregating states): written at every state update, read only when the
// cache misses, and iterated in order only when flushed (and by full snapshots).
//
// RocksDB's own representations pay for ordered reads on every write: the skip list
// searches on insertion (about 40 dependent cache misses with a million entries), and the
// hash-bucketed lists (HashLinkList, HashSkipList) sort each insertion into its bucket and
// then, to be flushed, are copied entry by entry into a skip list (several microseconds an
// entry in the flush thread: with the entry cache in front, the flush fell behind the
// writes and RocksDB stopped them). This one keeps
// - a hash table of chains by user key, each entry put at the head of its chain: an
//   insertion is O(1), a point read walks one chain;
// - the entries in insertion order, in chunks: an iterator (a flush) sorts them once, by
//   the first 8 bytes of the user key, then by RocksDB's comparator.
// Every iterator sorts the memtable, prefix iterators too: fine for flushes and full
// snapshots, too slow for frequent scans (which these columns' states never make).
// The byte order of the first 8 bytes is the column's order only for RocksDB's default
// bytewise comparator, which every column of the backend uses.
//
// Threading (RocksDB's contract for memtables): one writer; reads and iterators may run on
// other threads at the same time (a snapshot task iterating the column).
#pragma once

#include <cstddef>
#include <memory>

#include <rocksdb/memtablerep.h>

namespace eddy::state {

// A factory of such memtables with `buckets` hash buckets each (8 bytes a bucket, from the
// memtable's own memory).
std::shared_ptr<rocksdb::MemTableRepFactory> new_point_memtable_factory(size_t buckets);

}  // namespace eddy::state
