#include "algo/mixing.hpp"

#include <algorithm>
#include <cmath>

#include <Eigen/Core>

#include "common/error.hpp"

namespace murmur::algo {

void validate(const MixingWeights& w, const std::vector<NodeId>& transportNeighbours) {
  MURMUR_ENFORCE(std::isfinite(w.self) && w.self >= 0.0, InputError,
                 "mixing weights: self weight {} is not a finite value >= 0", w.self);
  double sum = w.self;
  std::vector<NodeId> seen;
  for (const auto& [id, weight] : w.neighbours) {
    MURMUR_ENFORCE(std::isfinite(weight) && weight >= 0.0, InputError,
                   "mixing weights: weight {} of neighbour {} is not a finite value >= 0", weight,
                   id);
    MURMUR_ENFORCE(std::find(seen.begin(), seen.end(), id) == seen.end(), InputError,
                   "mixing weights: neighbour {} appears twice", id);
    MURMUR_ENFORCE(std::find(transportNeighbours.begin(), transportNeighbours.end(), id) !=
                       transportNeighbours.end(),
                   InputError, "mixing weights: node {} is not a neighbour on the transport", id);
    seen.push_back(id);
    sum += weight;
  }
  MURMUR_ENFORCE(std::fabs(sum - 1.0) <= 1e-6, InputError,
                 "mixing weights: the row sums to {}, not 1", sum);
}

void mixInto(std::span<float> x, double selfWeight, std::span<const MixTerm> terms) {
  const auto n = static_cast<Eigen::Index>(x.size());
  Eigen::Map<Eigen::VectorXf> xv(x.data(), n);
  xv *= static_cast<float>(selfWeight);
  for (const MixTerm& t : terms) {
    MURMUR_CHECK(t.replica.size() == x.size(), "mixInto: replica of {} floats for a tensor of {}",
                 t.replica.size(), x.size());
    Eigen::Map<const Eigen::VectorXf> rv(t.replica.data(), n);
    xv += static_cast<float>(t.weight) * rv;
  }
}

}  // namespace murmur::algo
