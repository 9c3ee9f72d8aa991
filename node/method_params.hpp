#pragma once
// Method parameters from [gossip] / --param KEY=VALUE applied over an algo/ preset.

#include <map>
#include <string>
#include <vector>

#include "algo/method.hpp"

namespace murmur::node {

// Builds the preset `method` and applies `params` (keys listed by methodParamNames()), except
// the data-side key "redundancy" which the caller reads with redundancyOf(). Throws InputError
// naming the key and the bad value, or listing the known keys for an unknown one.
algo::MethodConfig buildMethod(const std::string& method,
                               const std::map<std::string, std::string>& params);

// RI-SGD's redundancy mu (fraction of the dataset each node holds besides its own shard):
// params["redundancy"] if set, else 0.25 for ri-sgd and 0 for every other method.
double redundancyOf(const std::string& method, const std::map<std::string, std::string>& params);

const std::vector<std::string>& methodParamNames();

}  // namespace murmur::node
