#include "runtime/channel.h"

#include <gtest/gtest.h>

#include <thread>

#include "eddy/error.h"

namespace eddy::runtime {
namespace {

using internal::Batch;
using internal::ChannelMessage;

ChannelMessage data(int64_t value) {
  auto batch = std::make_unique<Batch<int64_t>>();
  batch->values.push_back(value);
  batch->timestamps.push_back(kNoTimestamp);
  ChannelMessage message;
  message.batch = std::move(batch);
  return message;
}

int64_t value_of(const ChannelMessage& message) {
  return static_cast<Batch<int64_t>&>(*message.batch).values.at(0);
}

TEST(ChannelTest, BoundedFifo) {
  TaskNotifier consumer, producer;
  Channel channel(2, consumer, producer);
  ChannelMessage a = data(1), b = data(2), c = data(3);
  EXPECT_TRUE(channel.try_push(a));
  EXPECT_TRUE(channel.try_push(b));
  EXPECT_FALSE(channel.try_push(c));
  EXPECT_NE(c.batch, nullptr) << "a refused message stays with the producer";
  ChannelMessage out;
  ASSERT_TRUE(channel.try_pop(out));
  EXPECT_EQ(value_of(out), 1);
  EXPECT_TRUE(channel.try_push(c));
  ASSERT_TRUE(channel.try_pop(out));
  EXPECT_EQ(value_of(out), 2);
  ASSERT_TRUE(channel.try_pop(out));
  EXPECT_EQ(value_of(out), 3);
  EXPECT_FALSE(channel.try_pop(out));
  EXPECT_EQ(channel.peak_size(), 2u);
}

TEST(ChannelTest, BlockedWriterResumesWhenConsumerTakes) {
  TaskNotifier consumer, producer;
  std::atomic<bool> cancelled{false};
  Channel channel(1, consumer, producer);
  BlockingChannelWriter writer(channel, producer, cancelled);
  writer.write(data(1));
  std::thread t([&] { writer.write(data(2)); });  // blocks: the channel is full
  ChannelMessage out;
  std::vector<int64_t> received;
  while (received.size() < 2) {
    if (channel.try_pop(out)) {
      received.push_back(value_of(out));
    } else {
      consumer.wait();
    }
  }
  t.join();
  EXPECT_EQ(received, (std::vector<int64_t>{1, 2}));
}

TEST(ChannelTest, CancellationUnblocksWriter) {
  TaskNotifier consumer, producer;
  std::atomic<bool> cancelled{false};
  Channel channel(1, consumer, producer);
  BlockingChannelWriter writer(channel, producer, cancelled);
  writer.write(data(1));
  std::thread t([&] { EXPECT_THROW(writer.write(data(2)), TaskCancelled); });
  cancelled = true;
  producer.notify();
  t.join();
}

TEST(TaskNotifierTest, NotifyBeforeWaitIsNotLost) {
  TaskNotifier notifier;
  notifier.notify();
  notifier.wait();  // returns at once
  SUCCEED();
}

}  // namespace
}  // namespace eddy::runtime
