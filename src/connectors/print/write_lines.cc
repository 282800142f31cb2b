#include <cstdio>
#include <string>

#include "eddy/sinks.h"

namespace eddy::sinks::internal {

void write_lines(const std::string& text, bool to_stderr) {
  // One fwrite per call: stdio locks the stream, so lines of different subtasks never mix.
  std::fwrite(text.data(), 1, text.size(), to_stderr ? stderr : stdout);
}

}  // namespace eddy::sinks::internal
