// Command-line parsing and dispatch. Flags bind to scratch storage and are applied over the
// Config only when given, so that the precedence is: built-in defaults < --config FILE < flags.

#include <functional>
#include <memory>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "common/error.hpp"
#include "node/commands.hpp"

namespace murmur::node {
namespace {

class Binder {
 public:
  explicit Binder(CLI::App* app) : app_(app) {}

  template <class T, class Access>
  CLI::Option* option(const std::string& names, const std::string& help, const Config& defaults,
                      Access access) {
    auto value = std::make_shared<T>(access(const_cast<Config&>(defaults)));
    CLI::Option* opt = app_->add_option(names, *value, help)->capture_default_str();
    apply_.push_back([opt, value, access](Config& c) {
      if (opt->count() > 0) access(c) = *value;
    });
    return opt;
  }

  template <class Access>
  CLI::Option* flag(const std::string& names, const std::string& help, Access access) {
    auto value = std::make_shared<bool>(false);
    CLI::Option* opt = app_->add_flag(names, *value, help);
    apply_.push_back([opt, value, access](Config& c) {
      if (opt->count() > 0) access(c) = *value;
    });
    return opt;
  }

  void applyTo(Config& c) const {
    for (const auto& fn : apply_) fn(c);
  }

 private:
  CLI::App* app_;
  std::vector<std::function<void(Config&)>> apply_;
};

// Flags shared by train, node and run.
void addTrainingFlags(Binder& b, const Config& d) {
  b.option<std::string>("--model", "model: lenet5, mnist-cnn, resnet20", d,
                        [](Config& c) -> std::string& { return c.train.model; });
  b.option<std::string>("--data", "dataset: fashion-mnist, mnist, cifar10", d,
                        [](Config& c) -> std::string& { return c.data.name; });
  b.option<std::string>("--data-dir", "dataset directory (default: the dataset's standard path)", d,
                        [](Config& c) -> std::string& { return c.data.dir; });
  b.option<int64_t>("--train-limit", "use only the first N training images (0: all)", d,
                    [](Config& c) -> int64_t& { return c.data.trainLimit; });
  b.option<int64_t>("--test-limit", "evaluate on the first N test images (0: all)", d,
                    [](Config& c) -> int64_t& { return c.data.testLimit; });
  b.option<std::string>("--augment", "data augmentation: auto (cifar10 only), on, off", d,
                        [](Config& c) -> std::string& { return c.data.augment; });
  b.option<double>("--epochs", "epochs to train (fractions allowed)", d,
                   [](Config& c) -> double& { return c.train.epochs; });
  b.option<int64_t>("--steps", "stop after this many steps (overrides --epochs; 0: unset)", d,
                    [](Config& c) -> int64_t& { return c.train.steps; });
  b.option<int64_t>("--batch", "mini-batch size (train: mnist-cnn 16, resnet20 128)", d,
                    [](Config& c) -> int64_t& { return c.train.batch; });
  b.option<uint64_t>("--seed", "random seed (weights, shuffling, partitions)", d,
                     [](Config& c) -> uint64_t& { return c.train.seed; });
  b.option<int>(
      "--threads",
      "compute threads (0: MURMUR_THREADS if set, else every core for train and 1 per node)", d,
      [](Config& c) -> int& { return c.train.threads; });
  b.option<double>("--lr", "base learning rate (train: mnist-cnn 0.02, resnet20 0.1)", d,
                   [](Config& c) -> double& { return c.optim.lr; });
  b.option<std::string>("--schedule",
                        "lr schedule: constant | step:STEPS:GAMMA | cosine[:TOTAL[:MINLR]], "
                        "optionally ,warmup:STEPS",
                        d, [](Config& c) -> std::string& { return c.optim.schedule; });
  b.option<double>("--momentum", "SGD momentum (train: mnist-cnn 0.8)", d,
                   [](Config& c) -> double& { return c.optim.momentum; });
  b.flag("--nesterov,!--no-nesterov", "Nesterov momentum",
         [](Config& c) -> bool& { return c.optim.nesterov; });
  b.option<double>("--weight-decay", "L2 weight decay (train: resnet20 5e-4)", d,
                   [](Config& c) -> double& { return c.optim.weightDecay; });
  b.option<int64_t>("--eval-every", "evaluate every N steps (0: at the end of each epoch)", d,
                    [](Config& c) -> int64_t& { return c.train.evalEvery; });
}

void addGossipFlags(Binder& b, const Config& d) {
  b.option<std::string>("--method",
                        "gossip method: dpsgd, local-sgd, eventgrad, eventgrad-topk, "
                        "eventgrad-vote, aet-sgd, ri-sgd",
                        d, [](Config& c) -> std::string& { return c.gossip.method; });
  b.option<std::string>("--mixing", "mixing rule: auto, metropolis-hastings, max-degree, explicit",
                        d, [](Config& c) -> std::string& { return c.gossip.mixing; });
  b.option<std::string>("--partition", "data partition across nodes: iid, dirichlet", d,
                        [](Config& c) -> std::string& { return c.data.partition; });
  b.option<double>("--dirichlet-alpha", "concentration of the dirichlet partition", d,
                   [](Config& c) -> double& { return c.data.dirichletAlpha; });
  b.option<int>("--base-port", "node i listens on base-port + i (when the topology has no ports)",
                d, [](Config& c) -> int& { return c.net.basePort; });
  b.option<std::string>("--faults",
                        "fault scenario file: drop, delay, bandwidth, partitions "
                        "(docs/FAULTS.md)",
                        d, [](Config& c) -> std::string& { return c.net.faults; });
  b.option<std::string>("--secret-file",
                        "cluster secret file (default: $MURMUR_SECRET; neither: open cluster)", d,
                        [](Config& c) -> std::string& { return c.net.secretFile; });
}

// "--param key=value" (repeatable) sets a method parameter.
void addParamFlag(CLI::App* app, std::vector<std::string>& params) {
  app->add_option("--param,-p", params,
                  "method parameter KEY=VALUE, e.g. threshold=0.01 (repeatable)");
}

void applyParams(const std::vector<std::string>& params, Config& c) {
  for (const auto& p : params) {
    const auto eq = p.find('=');
    MURMUR_ENFORCE(eq != std::string::npos && eq > 0, InputError,
                   "--param '{}': expected KEY=VALUE", p);
    c.gossip.params[p.substr(0, eq)] = p.substr(eq + 1);
  }
}

// Thrown inside dispatch for errors that are the user's input: mapped to exit code 2.
struct UsageFailure {
  std::string message;
};

// perModelDefaults (train): defaults < the model's tuned defaults (applyModelDefaults) < file <
// flags.
Config resolve(const Config& defaults, const std::string& configPath, const Binder& b,
               const std::vector<std::string>* params = nullptr, bool perModelDefaults = false) {
  try {
    auto overrides = [&](Config& c) {
      if (!configPath.empty()) loadConfigFile(configPath, c);
      b.applyTo(c);
      if (params != nullptr) applyParams(*params, c);
    };
    Config cfg = defaults;
    if (perModelDefaults) {
      cfg = resolveWithModelDefaults(defaults, overrides);
    } else {
      overrides(cfg);
    }
    validate(cfg);
    return cfg;
  } catch (const Error& e) {
    throw UsageFailure{e.what()};
  }
}

}  // namespace

int runMain(int argc, char** argv) {
  CLI::App app{"murmur: decentralized, event-triggered CNN training over TCP gossip"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "show the help of every subcommand");

  // train
  Config trainDefaults;
  std::string trainConfig;
  auto* train = app.add_subcommand("train", "train one model on one node (no network)");
  Binder trainB(train);
  train->add_option("--config", trainConfig, "TOML config file (flags override it)")
      ->check(CLI::ExistingFile);
  addTrainingFlags(trainB, trainDefaults);
  trainB.option<std::string>("--out",
                             "output directory: metrics.jsonl, checkpoint.bin, config.toml",
                             trainDefaults, [](Config& c) -> std::string& { return c.train.out; });
  trainB.option<std::string>("--resume", "resume from this checkpoint", trainDefaults,
                             [](Config& c) -> std::string& { return c.train.resume; });

  // topo
  auto* topo = app.add_subcommand("topo", "generate and inspect topology files");
  topo->require_subcommand(1);
  TopoGenArgs gen;
  auto* topoGen = topo->add_subcommand("gen", "generate a topology");
  topoGen
      ->add_option("kind", gen.kind,
                   "ring, torus, complete, star, hypercube, exponential, random-regular, "
                   "erdos-renyi, small-world")
      ->required();
  topoGen->add_option("--nodes,-n", gen.nodes, "number of nodes")->required();
  topoGen->add_option("--out,-o", gen.out, "output file (default: stdout)");
  topoGen->add_option("--seed", gen.seed, "seed for random graphs")->capture_default_str();
  topoGen->add_option("--rows", gen.rows, "torus rows (0: squarest shape)");
  topoGen->add_option("--cols", gen.cols, "torus columns");
  topoGen->add_option("--degree,-d", gen.degree, "random-regular: degree of every node");
  topoGen->add_option("--p", gen.p, "erdos-renyi: probability of each edge");
  topoGen->add_option("--k", gen.k, "small-world: ring neighbours per node")->capture_default_str();
  topoGen->add_option("--beta", gen.beta, "small-world: rewiring probability")
      ->capture_default_str();
  topoGen
      ->add_option("--host", gen.host,
                   "host of every node; \"{i}\" is replaced by the node id (then every node "
                   "uses the same port)")
      ->capture_default_str();
  topoGen->add_option("--base-port", gen.basePort, "node i listens on base-port + i")
      ->capture_default_str();
  topoGen->add_option("--cluster-id", gen.clusterId, "cluster id written into the file");
  std::string infoPath, infoMixing = "auto";
  auto* topoInfo = topo->add_subcommand("info", "describe a topology file");
  topoInfo->add_option("file", infoPath, "topology file")->required();
  topoInfo
      ->add_option("--mixing", infoMixing,
                   "mixing rule: auto (explicit if the file has weights, else "
                   "metropolis-hastings), metropolis-hastings, max-degree, explicit")
      ->capture_default_str();

  // node
  Config nodeDefaults;
  nodeDefaults.train.epochs = 1;
  std::string nodeConfig;
  std::vector<std::string> nodeParams;
  NodeArgs nodeArgs;
  auto* node = app.add_subcommand("node", "run one node of a cluster");
  Binder nodeB(node);
  node->add_option("--config", nodeConfig, "TOML config file (flags override it)")
      ->check(CLI::ExistingFile);
  node->add_option("--topology", nodeArgs.topology, "topology file")->required();
  node->add_option("--id", nodeArgs.id, "this node's id in the topology")->required();
  node->add_option("--run-dir,--out", nodeArgs.runDir,
                   "run directory; the node writes RUN/node-<id>/")
      ->capture_default_str();
  addTrainingFlags(nodeB, nodeDefaults);
  addGossipFlags(nodeB, nodeDefaults);
  addParamFlag(node, nodeParams);

  // run
  Config runDefaults;
  runDefaults.train.epochs = 1;
  std::string runConfig, runOut;
  std::vector<std::string> runParams;
  bool runQuiet = false;
  auto* run = app.add_subcommand("run", "launch a cluster of nodes on this machine and watch it");
  Binder runB(run);
  run->add_option("--config", runConfig, "TOML config file (flags override it)")
      ->check(CLI::ExistingFile);
  run->add_option("--out,-o", runOut, "run directory (default: runs/<time>)");
  run->add_flag("--quiet,-q", runQuiet, "no live status lines");
  runB.option<std::string>("--topology", "topology file (overrides --nodes/--graph)", runDefaults,
                           [](Config& c) -> std::string& { return c.run.topology; });
  runB.option<int64_t>("--nodes,-n", "number of nodes", runDefaults,
                       [](Config& c) -> int64_t& { return c.run.nodes; });
  runB.option<std::string>("--graph", "generated topology kind", runDefaults,
                           [](Config& c) -> std::string& { return c.run.graph; });
  runB.option<double>("--deadline", "seconds before stragglers are killed", runDefaults,
                      [](Config& c) -> double& { return c.run.deadlineSeconds; });
  addTrainingFlags(runB, runDefaults);
  addGossipFlags(runB, runDefaults);
  addParamFlag(run, runParams);

  // report
  std::vector<std::string> reportDirs;
  std::string reportOut;
  auto* report = app.add_subcommand("report", "tables and plots from run directories");
  report->add_option("runs", reportDirs, "run directories")->required();
  report->add_option("--out,-o", reportOut, "output directory (default: the first run's report/)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --help-all
    fmt::print(stderr, "murmur: {} (see murmur --help)\n", e.what());
    return kExitUsage;
  }

  try {
    if (train->parsed()) {
      return trainCommand(resolve(trainDefaults, trainConfig, trainB, nullptr, true));
    }
    if (topoGen->parsed()) return topoGenCommand(gen);
    if (topoInfo->parsed()) return topoInfoCommand(infoPath, infoMixing);
    if (node->parsed()) {
      return nodeCommand(resolve(nodeDefaults, nodeConfig, nodeB, &nodeParams), nodeArgs);
    }
    if (run->parsed()) {
      return runCommand(resolve(runDefaults, runConfig, runB, &runParams), runOut, runQuiet);
    }
    if (report->parsed()) return reportCommand(reportDirs, reportOut);
  } catch (const UsageFailure& e) {
    fmt::print(stderr, "murmur: {}\n", e.message);
    return kExitUsage;
  } catch (const InputError& e) {
    fmt::print(stderr, "murmur: {}\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "murmur: {}\n", e.what());
    return kExitRuntime;
  }
  return kExitUsage;
}

}  // namespace murmur::node
