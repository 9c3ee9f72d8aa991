#include "net/write_queue.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "net/codec.hpp"

namespace murmur::net {
namespace {

TensorUpdate update(UpdateKind kind, uint32_t tensor, uint64_t seq, std::vector<float> values,
                    std::vector<uint32_t> indices = {}) {
  TensorUpdate u;
  u.kind = kind;
  u.tensor = tensor;
  u.seq = seq;
  u.step = seq * 10;
  u.values = std::move(values);
  u.indices = std::move(indices);
  return u;
}

// Two half-precision deltas summed are not a half-precision value: re-rounding the sum would
// make the receiver's replica drift from the sender's mirror of it, so merges travel as float32.
TEST(MergeUpdates, SummedFp16UpdatesTravelAsFloat32) {
  for (UpdateKind kind : {UpdateKind::kDense, UpdateKind::kMasked}) {
    TensorUpdate a = update(kind, 3, 1, {halfToFloatPortable(floatToHalfPortable(0.1f)), 1.0f});
    TensorUpdate b = update(kind, 3, 2, {halfToFloatPortable(floatToHalfPortable(0.2f)), 2.0f});
    a.fp16 = true;
    b.fp16 = true;
    const float exact = a.values[0] + b.values[0];
    ASSERT_TRUE(mergeUpdates(a, b));
    EXPECT_FALSE(a.fp16);
    EXPECT_EQ(a.values[0], exact);
    EXPECT_EQ(a.merged, 2u);
  }
  TensorUpdate s1 = update(UpdateKind::kSparse, 0, 1, {0.5f}, {1});
  TensorUpdate s2 = update(UpdateKind::kSparse, 0, 2, {0.25f}, {1});
  s1.fp16 = s2.fp16 = true;
  ASSERT_TRUE(mergeUpdates(s1, s2));
  EXPECT_FALSE(s1.fp16);
}

// Pushes like the transport does: append while there is room, merge when there is not.
struct Pusher {
  WriteQueue q;
  size_t appended = 0;
  explicit Pusher(size_t maxBytes) : q(maxBytes, 4) {}
  void push(const Message& m) {
    auto payload = std::make_shared<const Bytes>(encodePayload(m));
    if (q.fits(payload->size()) || !q.tryMerge(m, payload)) {
      q.append(OutFrame::of(m, payload));
      ++appended;
    }
  }
  std::vector<Message> drain() {
    std::vector<Message> out;
    size_t bytes = q.bytes();
    while (auto f = q.pop()) {
      bytes -= f->payload->size() + 4;
      out.push_back(decodePayload(*f->payload));
    }
    EXPECT_EQ(bytes, 0u);
    EXPECT_EQ(q.bytes(), 0u);
    return out;
  }
};

// The same for int8: a sum of two grid values is off both grids. The queue must re-encode it
// as float32; keeping the scale made the encoder refuse the merged frame (a node on a full link
// with int8 values died with an internal error).
TEST(WriteQueueTest, MergedInt8UpdatesTravelAsFloat32) {
  for (UpdateKind kind : {UpdateKind::kDense, UpdateKind::kMasked, UpdateKind::kSparse}) {
    Pusher p(1);  // always "behind": every push after the first merges
    const bool sparse = kind == UpdateKind::kSparse;
    TensorUpdate a = update(kind, 2, 1, {1.0f, -0.5f},
                            sparse ? std::vector<uint32_t>{0, 3} : std::vector<uint32_t>{});
    TensorUpdate b = update(kind, 2, 2, {0.3f, 0.1f},
                            sparse ? std::vector<uint32_t>{0, 3} : std::vector<uint32_t>{});
    a.int8Scale = 0.5f / 127.0f * 2.0f;  // 1.0 = 127 q; -0.5 off by rounding: make them fit
    a.values = {127 * a.int8Scale, -64 * a.int8Scale};
    b.int8Scale = 0.3f / 127.0f;
    b.values = {127 * b.int8Scale, 42 * b.int8Scale};
    const float sum0 = a.values[0] + b.values[0];
    p.push(a);
    p.push(b);
    auto out = p.drain();
    ASSERT_EQ(out.size(), 1u) << static_cast<int>(kind);
    const auto& merged = std::get<TensorUpdate>(out[0]);
    EXPECT_EQ(merged.int8Scale, 0.0f);
    EXPECT_EQ(merged.values[0], sum0);
    EXPECT_EQ(merged.merged, 2u);
  }
  // Sign values: +-0.25 and +-0.125 sum to 0.375 or 0.125, neither of them +-either scale.
  Pusher p(1);
  TensorUpdate a = update(UpdateKind::kDense, 4, 1, {0.25f, -0.25f});
  TensorUpdate b = update(UpdateKind::kDense, 4, 2, {0.125f, 0.125f});
  a.signScale = 0.25f;
  b.signScale = 0.125f;
  p.push(a);
  p.push(b);
  auto out = p.drain();
  ASSERT_EQ(out.size(), 1u);
  const auto& merged = std::get<TensorUpdate>(out[0]);
  EXPECT_EQ(merged.signScale, 0.0f);
  EXPECT_EQ(merged.values, (std::vector<float>{0.375f, -0.125f}));
}
TEST(MergeUpdatesTest, DenseIntoDenseSumsAndTracksSeq) {
  auto a = update(UpdateKind::kDense, 1, 5, {1, 2, 3});
  auto b = update(UpdateKind::kDense, 1, 6, {10, 20, 30});
  b.merged = 2;
  ASSERT_TRUE(mergeUpdates(a, b));
  EXPECT_EQ(a.values, (std::vector<float>{11, 22, 33}));
  EXPECT_EQ(a.seq, 6u);
  EXPECT_EQ(a.merged, 3u);
  EXPECT_EQ(a.step, 60u);
}

TEST(MergeUpdatesTest, SparseCombinations) {
  auto s1 = update(UpdateKind::kSparse, 0, 1, {1, 2}, {1, 4});
  auto s2 = update(UpdateKind::kSparse, 0, 2, {10, 20, 30}, {0, 4, 5});
  ASSERT_TRUE(mergeUpdates(s1, s2));
  EXPECT_EQ(s1.indices, (std::vector<uint32_t>{0, 1, 4, 5}));
  EXPECT_EQ(s1.values, (std::vector<float>{10, 1, 22, 30}));

  auto d = update(UpdateKind::kDense, 0, 3, {1, 1, 1, 1, 1, 1});
  auto s = update(UpdateKind::kSparse, 0, 2, {5}, {2});
  ASSERT_TRUE(mergeUpdates(s, d));  // sparse then dense: becomes dense
  EXPECT_EQ(s.kind, UpdateKind::kDense);
  EXPECT_EQ(s.values, (std::vector<float>{1, 1, 6, 1, 1, 1}));
  EXPECT_TRUE(s.indices.empty());

  auto key = update(UpdateKind::kKeyframe, 0, 1, {0, 0, 0});
  auto late = update(UpdateKind::kSparse, 0, 2, {7}, {9});
  EXPECT_FALSE(mergeUpdates(key, late));  // index out of the tensor: refuse, do not corrupt
  EXPECT_EQ(key.values, (std::vector<float>{0, 0, 0}));
}

TEST(MergeUpdatesTest, MaskedOnlyOnTheSameMask) {
  auto a = update(UpdateKind::kMasked, 0, 1, {1, 2});
  auto b = update(UpdateKind::kMasked, 0, 2, {3, 4});
  b.maskEpoch = 1;
  EXPECT_FALSE(mergeUpdates(a, b));
  b.maskEpoch = 0;
  ASSERT_TRUE(mergeUpdates(a, b));
  EXPECT_EQ(a.values, (std::vector<float>{4, 6}));
  auto dense = update(UpdateKind::kDense, 0, 3, {1, 1});
  EXPECT_FALSE(mergeUpdates(a, dense));
}

TEST(WriteQueueTest, AppendsWhileThereIsRoom) {
  Pusher p(1 << 20);
  for (int i = 0; i < 10; ++i)
    p.push(update(UpdateKind::kDense, 0, static_cast<uint64_t>(i) + 1, {1.f}));
  EXPECT_EQ(p.q.frames(), 10u);
  EXPECT_EQ(p.q.merges(), 0u);
}

TEST(WriteQueueTest, StalledPeerMergesAndConservesTheSumPerTensor) {
  // Room for ~3 updates of 1000 floats; 300 updates over 3 tensors, mixed kinds.
  Pusher p(3 * 4100);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::map<uint32_t, std::vector<double>> sent;
  std::map<uint32_t, uint64_t> seq;
  for (int k = 0; k < 300; ++k) {
    const uint32_t t = static_cast<uint32_t>(rng() % 3);
    auto& sum = sent[t];
    sum.resize(1000, 0.0);
    TensorUpdate upd;
    if (k % 5 == 4) {  // a sparse delta now and then
      std::vector<uint32_t> idx;
      std::vector<float> vals;
      for (uint32_t i = static_cast<uint32_t>(rng() % 7); i < 1000; i += 7) {
        idx.push_back(i);
        vals.push_back(u(rng));
        sum[i] += vals.back();
      }
      upd = update(UpdateKind::kSparse, t, ++seq[t], std::move(vals), std::move(idx));
    } else {
      std::vector<float> vals(1000);
      for (size_t i = 0; i < vals.size(); ++i) {
        vals[i] = u(rng);
        sum[i] += vals[i];
      }
      upd = update(UpdateKind::kDense, t, ++seq[t], std::move(vals));
    }
    p.push(upd);
    if (k % 3 == 0) p.push(Heartbeat{static_cast<uint64_t>(k), 0, 0});
    EXPECT_LE(p.q.bytes(), 6 * 4100u) << "memory must stay bounded";
  }
  EXPECT_GT(p.q.merges(), 200u);
  std::map<uint32_t, std::vector<double>> got;
  std::map<uint32_t, uint64_t> lastSeq;
  std::map<uint32_t, uint64_t> mergedTotal;
  size_t heartbeats = 0;
  for (const auto& m : p.drain()) {
    if (std::holds_alternative<Heartbeat>(m)) {
      ++heartbeats;
      continue;
    }
    const auto& upd = std::get<TensorUpdate>(m);
    auto& sum = got[upd.tensor];
    sum.resize(1000, 0.0);
    if (upd.kind == UpdateKind::kSparse) {
      for (size_t i = 0; i < upd.indices.size(); ++i) sum[upd.indices[i]] += upd.values[i];
    } else {
      for (size_t i = 0; i < 1000; ++i) sum[i] += upd.values[i];
    }
    EXPECT_EQ(upd.seq - upd.merged, lastSeq[upd.tensor]) << "contiguous seq ranges";
    lastSeq[upd.tensor] = upd.seq;
    mergedTotal[upd.tensor] += upd.merged;
  }
  EXPECT_LT(heartbeats, 5u);  // of 100: once behind, heartbeats supersede each other
  for (auto& [t, sum] : sent) {
    EXPECT_EQ(lastSeq[t], seq[t]);
    EXPECT_EQ(mergedTotal[t], seq[t]);
    for (size_t i = 0; i < 1000; ++i) ASSERT_NEAR(got[t][i], sum[i], 1e-3) << "tensor " << t;
  }
}

TEST(WriteQueueTest, KeyframeSupersedesQueuedUpdatesOfItsTensor) {
  Pusher p(1);                                          // always "behind"
  p.push(update(UpdateKind::kDense, 0, 1, {1, 1}));     // appended (nothing to merge into)
  p.push(MaskVote{0, 0, 10, {1, 2}});                   // appended
  p.push(update(UpdateKind::kDense, 1, 1, {5, 5}));     // appended (other tensor)
  p.push(update(UpdateKind::kSparse, 0, 2, {1}, {0}));  // merged into tensor 0's dense
  p.push(update(UpdateKind::kKeyframe, 0, 3, {7, 8}));  // supersedes tensor 0
  auto out = p.drain();
  ASSERT_EQ(out.size(), 3u);
  const auto& key = std::get<TensorUpdate>(out[0]);
  EXPECT_EQ(key.kind, UpdateKind::kKeyframe);
  EXPECT_EQ(key.values, (std::vector<float>{7, 8}));
  EXPECT_EQ(key.seq, 3u);
  EXPECT_EQ(key.merged, 3u);
  EXPECT_TRUE(std::holds_alternative<MaskVote>(out[1]));
  EXPECT_EQ(std::get<TensorUpdate>(out[2]).tensor, 1u);
}

TEST(WriteQueueTest, HeartbeatsCollapseWithoutGoingBackwards) {
  Pusher p(1);
  p.push(Heartbeat{10, 4, 100, 10});  // algo's round heartbeat, after step 9's frames
  p.push(Heartbeat{11, 0, 200, 0});   // the transport's idle heartbeat: round 0, no stepsDone
  auto out = p.drain();
  ASSERT_EQ(out.size(), 1u);
  const auto& hb = std::get<Heartbeat>(out[0]);
  EXPECT_EQ(hb.step, 11u);
  EXPECT_EQ(hb.round, 4u);
  EXPECT_EQ(hb.sentNs, 200);
  EXPECT_EQ(hb.stepsDone, 10u);
}

TEST(WriteQueueTest, DeltaAfterKeyframeFoldsIntoIt) {
  Pusher p(1);
  p.push(update(UpdateKind::kKeyframe, 2, 4, {1, 2, 3}));
  p.push(update(UpdateKind::kDense, 2, 5, {1, 1, 1}));
  auto out = p.drain();
  ASSERT_EQ(out.size(), 1u);
  const auto& key = std::get<TensorUpdate>(out[0]);
  EXPECT_EQ(key.kind, UpdateKind::kKeyframe);
  EXPECT_EQ(key.values, (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(key.seq, 5u);
  EXPECT_EQ(key.merged, 2u);
}

}  // namespace
}  // namespace murmur::net
