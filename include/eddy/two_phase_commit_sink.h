// A base for exactly-once sinks that write into an external system through transactions
// (Flink's TwoPhaseCommitSinkFunction). A user supplies, per subtask, a Transactions object
// that knows how to begin, write into, pre-commit, commit and abort one transaction of type
// Txn; the writer this sink creates ties them to checkpoints:
//
//   records          go into the current transaction (invoke)
//   checkpoint N     (its barrier) pre_commit the current transaction, keep it as pending
//                    for N, begin a new one; operator state records the pending
//                    transactions and the new current one
//   N completes      commit every pending transaction of checkpoints <= N, in order
//   N aborted        nothing: its pending transaction is committed with the next
//                    checkpoint that completes
//   restore          recover_and_commit every pending transaction in the restored state
//                    (its checkpoint completed), then recover_and_abort every transaction
//                    that was current at that checkpoint (what it got was never checkpointed)
//   end of input     with checkpointing off: pre_commit and commit the current transaction;
//                    with it on, the runtime's final checkpoint commits it
//   close()          abort the current transaction (never a pending one: its checkpoint may
//                    have completed); errors are swallowed, as close() must not throw
//
// Contract for Transactions:
//  - commit() and recover_and_commit() must be idempotent: after a failure the same
//    transaction may be committed again (from an older checkpoint's state, or by the
//    notification that follows a restore).
//  - recover_and_abort() gets a transaction as it was when it began (nothing of what was
//    written into it afterwards is in the state), so it must find what to undo by itself,
//    e.g. by naming everything a transaction writes after an id stored in Txn.
//  - An exception from any method fails the subtask (and the job fails over); the writer
//    does not retry.
//  - Txn is default-constructible, movable and copyable, and has an eddy::Serializer
//    (EDDY_SERIALIZE on a struct, see eddy/serializer.h); it is what operator state stores.
//
// With a job restored at another parallelism, the stored transactions are spread over the
// new subtasks (operator list state), each committed or aborted by exactly one of them.
//
// Threading: the writer and its Transactions are used only from their subtask's thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eddy/operator.h"
#include "eddy/operator_state.h"
#include "eddy/serializer.h"
#include "eddy/sink.h"
#include "eddy/state.h"
#include "eddy/time.h"

namespace eddy {

// One transaction as operator state stores it.
template <class Txn>
struct StoredTransaction {
  // Pending: pre-committed at checkpoint `checkpoint_id`, to be committed. Otherwise: the
  // transaction that was open at checkpoint `checkpoint_id`, to be aborted on restore.
  int64_t checkpoint_id = 0;
  bool pending = false;
  Txn transaction{};
  EDDY_SERIALIZE(checkpoint_id, pending, transaction)
};

template <class T, class Txn>
class TwoPhaseCommitSink : public Sink<T> {
 public:
  // The transactions of one subtask; see the contract at the top of this file.
  class Transactions {
   public:
    virtual ~Transactions() = default;
    virtual Txn begin_transaction() = 0;
    virtual void invoke(Txn& transaction, T&& value, Timestamp timestamp) = 0;
    // Makes the transaction ready to commit; after it returns, commit() must succeed even
    // after a failure of this process (flush, persist what commit needs into Txn).
    virtual void pre_commit(Txn& transaction) = 0;
    virtual void commit(const Txn& transaction) = 0;
    virtual void abort(const Txn& transaction) = 0;
    // After a restore: a transaction that was pre-committed before the failure.
    virtual void recover_and_commit(const Txn& transaction) { commit(transaction); }
    // After a restore: a transaction that was open at the restored checkpoint.
    virtual void recover_and_abort(const Txn& transaction) { abort(transaction); }
  };

  // `state_name`: the operator list state that holds the transactions.
  explicit TwoPhaseCommitSink(std::string state_name = "two-phase-commit-transactions")
      : state_name_(std::move(state_name)) {}

  std::unique_ptr<SinkWriter<T>> create_writer(const RuntimeContext& context) const final {
    return std::make_unique<Writer>(context, create_transactions(context), state_name_);
  }

  // Gathers the transactions of every old subtask from the restored operator state and
  // hands them to clean_up_before_run().
  void prepare_run(const std::vector<OperatorStateSnapshot>& restored) const final {
    std::vector<StoredTransaction<Txn>> stored;
    for (const OperatorStateSnapshot& subtask : restored) {
      for (const auto& state : subtask.states) {
        if (state.name != state_name_) continue;
        for (const std::string& bytes : state.elements) stored.push_back(deserialize<StoredTransaction<Txn>>(bytes));
      }
    }
    clean_up_before_run(stored);
  }

 protected:
  // Before a run (restored from a checkpoint holding `restored`, or fresh with none), no
  // writer exists yet: remove what failed runs left that none of `restored` refers to,
  // e.g. transactions begun after the checkpoint by a run that then died. The pending
  // transactions in `restored` are committed by the writers afterwards. Default: nothing.
  virtual void clean_up_before_run(const std::vector<StoredTransaction<Txn>>& restored) const {}

  // Called once per subtask, from create_writer(), before any transaction begins.
  virtual std::unique_ptr<Transactions> create_transactions(
      const RuntimeContext& context) const = 0;

 private:
  class Writer;

  std::string state_name_;
};

template <class T, class Txn>
class TwoPhaseCommitSink<T, Txn>::Writer final : public SinkWriter<T> {
 public:
  Writer(const RuntimeContext& context, std::unique_ptr<Transactions> transactions,
         const std::string& state_name)
      : transactions_(std::move(transactions)),
        checkpointing_(context.config().checkpoints.enabled()) {
    // Without checkpointing there is nothing to store, but a runtime that has a store (or
    // a checkpointed job that lacks one, which operator_state() reports) gets it used.
    if (checkpointing_ || context.operator_state_store() != nullptr) {
      state_ = &context.operator_state().get_list_state(
          ListStateDescriptor<StoredTransaction<Txn>>(state_name));
      recover(state_->get());
      state_->update({});
    }
    current_ = transactions_->begin_transaction();
  }

  void write(T&& value, Timestamp timestamp) override {
    if (!current_) current_ = transactions_->begin_transaction();
    transactions_->invoke(*current_, std::move(value), timestamp);
  }

  void snapshot_state(int64_t checkpoint_id) override {
    if (!current_) current_ = transactions_->begin_transaction();
    transactions_->pre_commit(*current_);
    pending_.push_back(Pending{checkpoint_id, std::move(*current_)});
    current_ = transactions_->begin_transaction();
    if (state_ == nullptr) return;
    std::vector<StoredTransaction<Txn>> stored;
    stored.reserve(pending_.size() + 1);
    for (const Pending& p : pending_) stored.push_back({p.checkpoint_id, true, p.transaction});
    stored.push_back({checkpoint_id, false, *current_});
    state_->update(std::move(stored));
  }

  void notify_checkpoint_complete(int64_t checkpoint_id) override {
    while (!pending_.empty() && pending_.front().checkpoint_id <= checkpoint_id) {
      transactions_->commit(pending_.front().transaction);
      pending_.pop_front();
    }
  }

  void flush(bool end_of_input) override {
    // With checkpointing on, the final checkpoint after the end of input commits.
    if (!end_of_input || checkpointing_ || !current_) return;
    transactions_->pre_commit(*current_);
    transactions_->commit(*current_);
    current_.reset();
  }

  void close() override {
    if (!current_) return;
    std::optional<Txn> current = std::move(current_);
    current_.reset();
    try {
      transactions_->abort(*current);
    } catch (...) {
      // close() must not throw; a restore would abort it again from the stored state.
    }
  }

 private:
  struct Pending {
    int64_t checkpoint_id;
    Txn transaction;
  };

  void recover(std::vector<StoredTransaction<Txn>> stored) {
    // Pending ones first, in checkpoint order (the elements of several old subtasks may be
    // interleaved after a rescale).
    std::stable_sort(stored.begin(), stored.end(),
                     [](const StoredTransaction<Txn>& a, const StoredTransaction<Txn>& b) {
                       if (a.pending != b.pending) return a.pending;
                       return a.checkpoint_id < b.checkpoint_id;
                     });
    for (const StoredTransaction<Txn>& s : stored) {
      if (s.pending) {
        transactions_->recover_and_commit(s.transaction);
      } else {
        transactions_->recover_and_abort(s.transaction);
      }
    }
  }

  std::unique_ptr<Transactions> transactions_;
  bool checkpointing_;
  ListState<StoredTransaction<Txn>>* state_ = nullptr;
  std::optional<Txn> current_;
  std::deque<Pending> pending_;  // by checkpoint id
};

}  // namespace eddy
