// Writes a seed corpus for frame_fuzz: one file per message kind, framed, in the fuzzer's
// input format (control byte, mode byte, stream). Built and run by scripts/fuzz.sh.

#include <cstdio>
#include <string>

#include "net/codec.hpp"
#include "net/framing.hpp"

using namespace murmur;
using namespace murmur::net;

namespace {
void write(const std::string& dir, const std::string& name, const Bytes& payload, bool raw) {
  Bytes input = {static_cast<uint8_t>(raw ? 0x02 : 0xFE), static_cast<uint8_t>(raw ? 1 : 0)};
  Bytes body = raw ? payload : buildFrame(payload);
  input.insert(input.end(), body.begin(), body.end());
  std::string path = dir + "/" + name + (raw ? ".raw" : ".frame");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return;
  std::fwrite(input.data(), 1, input.size(), f);
  std::fclose(f);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::string dir = argv[1];
  TensorUpdate dense;
  dense.tensor = 2;
  dense.values.assign(40, 0.5f);
  TensorUpdate sparse = dense;
  sparse.kind = UpdateKind::kSparse;
  sparse.values = {1.0f, 2.0f, 3.0f};
  sparse.indices = {1, 200, 999};
  TensorUpdate half = dense;
  half.fp16 = true;
  half.kind = UpdateKind::kKeyframe;
  TensorUpdate riceSparse = sparse;
  riceSparse.values.assign(10, 0.25f);
  riceSparse.indices = {0, 7, 15, 22, 30, 41, 50, 58, 66, 73};  // Golomb-Rice beats varint
  TensorUpdate int8 = dense;
  int8.kind = UpdateKind::kMasked;
  int8.int8Scale = 0.25f;  // 0.5 is q = 2 on that grid
  TensorUpdate sign = sparse;
  sign.values = {0.5f, -0.5f, 0.5f};
  sign.signScale = 0.5f;
  TensorUpdate digest = dense;
  digest.kind = UpdateKind::kKeyframe;
  digest.values.clear();
  digest.digest = 0x1234;
  MaskDecision againstVote{1, 3, 10, {4}, true};
  MaskVote varint{1, 3, 10, {2, 7}};
  MaskVote rice{2, 5, 48000, {}};
  for (uint32_t i = 0; i < 48000; i += 10) rice.indices.push_back(i);
  MaskDecision bitmap{3, 4, 65536, {}};
  for (uint32_t i = 0; i < 65536; i += 3) bitmap.indices.push_back(i);
  Hello hello;
  hello.clusterId = "fuzz";
  hello.node = 4;
  const std::pair<const char*, Bytes> seeds[] = {
      {"dense", encodePayload(Message(dense))},
      {"sparse", encodePayload(Message(sparse))},
      {"fp16", encodePayload(Message(half))},
      {"sparse_rice", encodePayload(Message(riceSparse))},
      {"int8", encodePayload(Message(int8))},
      {"sign", encodePayload(Message(sign))},
      {"keyframe_digest", encodePayload(Message(digest))},
      {"decision_against_vote", encodePayload(Message(againstVote))},
      {"vote", encodePayload(Message(varint))},
      {"vote_rice", encodePayload(Message(rice))},
      {"decision", encodePayload(Message(bitmap))},
      {"heartbeat", encodePayload(Message(Heartbeat{1, 2, 3}))},
      {"goodbye", encodePayload(Message(Goodbye{"bye"}))},
      {"keyframe_request", encodePayload(Message(KeyframeRequest{1, "gap"}))},
      {"hello", encodeHello(hello)},
      {"proof", encodeHelloProof(HelloProof{})},
  };
  for (const auto& [name, payload] : seeds) {
    write(dir, name, payload, false);
    write(dir, name, payload, true);
  }
  return 0;
}
