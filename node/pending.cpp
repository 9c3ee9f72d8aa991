// Subcommands whose modules have not landed yet report so plainly instead of pretending.
#include <fmt/format.h>

#include "node/commands.hpp"

namespace murmur::node {

int runCommand(const Config&, const std::string&, bool) {
  fmt::print(stderr, "murmur run: not available in this build yet\n");
  return kExitRuntime;
}
int reportCommand(const std::vector<std::string>&, const std::string&) {
  fmt::print(stderr, "murmur report: not available in this build yet\n");
  return kExitRuntime;
}

}  // namespace murmur::node
