// The job that kill9_test.cc kills and restarts: (key, sequence) records from a rate-limited
// generator, a keyed check that each key's sequence is contiguous (a gap or repeat fails
// the job), and the exactly-once file sink. Options: --records N --rate R --out DIR, and
// the usual runtime options (--checkpoint-dir, --checkpoint-interval-ms, --restore latest).
#include <cstdio>
#include <ostream>
#include <string>

#include "eddy/eddy.h"
#include "eddy/file_sink.h"

namespace {

constexpr int64_t kKeys = 8;

struct Record {
  int64_t key = 0;
  int64_t seq = 0;
  EDDY_SERIALIZE(key, seq)
  friend std::ostream& operator<<(std::ostream& out, const Record& r) { return out << r.key << " " << r.seq; }
};

class SequenceChecker {
 public:
  void open(eddy::RuntimeContext& context) {
    last_ = &context.get_state(eddy::ValueStateDescriptor<int64_t>("last-seq"));
  }
  Record operator()(const Record& r) {
    int64_t expected = last_->value_or(-1) + 1;
    if (r.seq != expected) {
      throw std::logic_error("key " + std::to_string(r.key) + ": sequence " + std::to_string(r.seq) + " after " +
                             std::to_string(expected - 1));
    }
    last_->update(r.seq);
    return r;
  }

 private:
  eddy::ValueState<int64_t>* last_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    auto env = eddy::StreamEnvironment::from_args(argc, argv);
    const eddy::Args& args = env.args();
    eddy::sources::GeneratorOptions generator;
    generator.count = args.get_int("records", 100000);
    generator.records_per_second = args.get_double("rate", 50000);
    eddy::FileSinkOptions<Record> sink;
    sink.base_path = args.required("out");
    sink.bucket_assigner = eddy::buckets::single<Record>();
    sink.encoder = [](const Record& r, std::string& out) {
      out += std::to_string(r.key) + " " + std::to_string(r.seq) + "\n";
    };
    // Each key's records come from one of the two source splits, so they arrive in order.
    const int64_t per_split = generator.count / 2;
    auto record_at = [per_split](int64_t i) {
      int64_t split = i / per_split;
      int64_t j = i % per_split;
      return Record{split * (kKeys / 2) + j % (kKeys / 2), j / (kKeys / 2)};
    };
    env.from_source(eddy::sources::generator(record_at, generator), "Records")
        .uid("records")
        .key_by([](const Record& r) { return r.key; })
        .map(SequenceChecker())
        .name("check")
        .uid("check")
        .sink_to(std::shared_ptr<const eddy::Sink<Record>>(eddy::sinks::file<Record>(sink)), "Files")
        .uid("files");
    eddy::JobResult result = env.execute("exactly-once job");
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", result.error.c_str());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
