#include "node/commands.hpp"

int main(int argc, char** argv) { return murmur::node::runMain(argc, argv); }
