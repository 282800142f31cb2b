#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace eddy::internal {

std::string demangle(const char* mangled_name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(mangled_name, nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled_name);
}

}  // namespace eddy::internal
