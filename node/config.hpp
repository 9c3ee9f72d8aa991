#pragma once
// murmur's configuration as plain aggregate structs. One Config serves every subcommand: `train`
// reads [model]/[data]/[optim]/[train], `node` and `run` add [gossip], [net] and [run]. A TOML
// file fills it (unknown keys and wrong types are errors naming the key and the file), then
// command-line flags override single fields. The resolved Config is written back as TOML into
// every output directory, so a run records exactly what it ran with.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace murmur::node {

struct DataConfig {
  std::string name = "fashion-mnist";  // fashion-mnist | mnist | cifar10
  std::string dir;                     // empty: the loader's default location
  int64_t trainLimit = 0;              // use only the first N training images (0: all)
  int64_t testLimit = 0;               // evaluate on the first N test images (0: all)
  std::string augment = "auto";        // auto (on for cifar10) | on | off
  std::string partition = "iid";       // iid | dirichlet (node/run only)
  double dirichletAlpha = 0.5;

  bool operator==(const DataConfig&) const = default;
};

struct OptimConfig {
  double lr = 0.05;
  double momentum = 0.9;
  bool nesterov = false;
  double weightDecay = 0.0;
  // nn::parseSchedule's spec: "constant", "step:STEPSIZE:GAMMA", "cosine[:TOTAL[:MINLR]]",
  // optionally followed by ",warmup:STEPS[:STARTFACTOR]". Cosine without TOTAL spans the run.
  std::string schedule = "cosine";

  bool operator==(const OptimConfig&) const = default;
};

struct TrainConfig {
  std::string model = "lenet5";
  double epochs = 3;  // fractional epochs are allowed (node/run: of the node's shard)
  int64_t steps = 0;  // > 0: stop after this many steps instead of `epochs`
  int64_t batch = 64;
  uint64_t seed = 1;
  int threads = 0;        // oneDNN/OpenMP threads (0: library default)
  int64_t evalEvery = 0;  // evaluate every this many steps (0: at the end of every epoch)
  std::string out;        // output directory (empty: none for train)
  std::string resume;     // checkpoint to resume from

  bool operator==(const TrainConfig&) const = default;
};

struct GossipConfig {
  std::string method = "eventgrad";  // dpsgd | local-sgd | eventgrad | eventgrad-topk | ...
  std::string mixing = "auto";       // auto | metropolis-hastings | max-degree | explicit
  // Method parameters by name (threshold, horizon, warmup, period, topk, ...), overriding the
  // preset; kept as strings here and parsed where the method is built.
  std::map<std::string, std::string> params;

  bool operator==(const GossipConfig&) const = default;
};

struct NetConfig {
  std::string host = "127.0.0.1";
  // Node i listens on basePort + i unless the topology names addresses. Below Linux's ephemeral
  // range (32768-60999): a port in it can be taken by any outgoing connection before the node
  // binds it (seen twice in the experiment grids).
  int basePort = 7000;
  int64_t connectTimeoutMs = 10000;
  int64_t closeTimeoutMs = 2000;
  std::string faults;      // fault scenario file (docs/FAULTS.md); empty: perfect links
  std::string secretFile;  // cluster secret file; empty: $MURMUR_SECRET; neither: open cluster

  bool operator==(const NetConfig&) const = default;
};

struct RunConfig {
  int64_t nodes = 4;
  std::string graph = "ring";     // generator kind when no topology file is given
  std::string topology;           // a topology file (overrides nodes/graph)
  double deadlineSeconds = 1800;  // the launcher kills nodes still running after this

  bool operator==(const RunConfig&) const = default;
};

struct Config {
  TrainConfig train;
  DataConfig data;
  OptimConfig optim;
  GossipConfig gossip;
  NetConfig net;
  RunConfig run;

  bool operator==(const Config&) const = default;
};

// Reads `path` over `cfg` (fields absent from the file keep their current value). Throws
// InputError naming the file, line and key on a syntax error, an unknown key or a wrong type.
void loadConfigFile(const std::string& path, Config& cfg);
// Same, from TOML text; `origin` names the source in messages.
void loadConfigString(const std::string& text, const std::string& origin, Config& cfg);

// Throws InputError naming the first invalid field (e.g. "optim.lr must be > 0, got -1").
void validate(const Config& cfg);

// The TOML text of `cfg`; loadConfigString(toToml(cfg)) gives back an equal Config.
std::string toToml(const Config& cfg);

// Per-model training defaults of `murmur train` (measured, see docs/ACCURACY.md): sets the
// fields that `model`'s defaults change (train.batch and optim.*) in `cfg`; a model without
// tuned defaults (lenet5, unknown names) leaves `cfg` unchanged.
//   mnist-cnn: batch 16, lr 0.02, momentum 0.8 (cosine)
//   resnet20:  batch 128, lr 0.1, weight decay 5e-4 (momentum 0.9, cosine)
void applyModelDefaults(const std::string& model, Config& cfg);

// The precedence `defaults < the model's defaults < overrides`: `overrides` (load the config
// file, then apply the flags) runs once over `defaults` to learn the model, then again over
// `defaults` with that model's defaults applied. Errors from `overrides` propagate.
Config resolveWithModelDefaults(const Config& defaults,
                                const std::function<void(Config&)>& overrides);

}  // namespace murmur::node
