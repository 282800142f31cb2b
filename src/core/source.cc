#include "eddy/source.h"

namespace eddy {

std::string SourceBase::serialize_split(const SourceSplit& split) const {
  throw Error("split '" + split.split_id() +
              "' cannot be checkpointed: its source does not implement serialize_split / deserialize_split");
}

std::unique_ptr<SourceSplit> SourceBase::deserialize_split(std::string_view) const {
  throw Error("this source cannot restore splits from a checkpoint: it does not implement deserialize_split");
}

std::unique_ptr<SplitEnumerator> SourceBase::restore_enumerator(SplitEnumeratorContext& context,
                                                                SplitList unassigned) const {
  return std::make_unique<StaticSplitEnumerator>(context, std::move(unassigned));
}

}  // namespace eddy
