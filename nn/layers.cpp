#include "nn/layers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "common/error.hpp"
#include "nn/dnnl_context.hpp"

namespace murmur::nn {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

memory::dims nchw(int n, Dims3 d) { return {n, d.c, d.h, d.w}; }
Tag tagOf(Format f) {
  switch (f) {
    case Format::kBlocked16:
      return Tag::nChw16c;
    case Format::kNhwc:
      return Tag::nhwc;
    case Format::kNchw:
      break;
  }
  return Tag::nchw;
}
void checkFormat(Format f, int channels, const char* layer) {
  MURMUR_ENFORCE(f != Format::kBlocked16 || channels % 16 == 0, InputError,
                 "{}: blocked format needs channels divisible by 16, got {}", layer, channels);
}
memory::desc plainMd(const memory::dims& d, Tag t) { return memory::desc(d, Dt::f32, t); }
memory::desc anyMd(const memory::dims& d) { return memory::desc(d, Dt::f32, Tag::any); }

dnnl::primitive_attr userScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// One memory on an outside pointer (set per call) plus, when the primitive wants another
// layout, a pre-allocated copy in that layout and the reorder between them.
struct Staged {
  memory user;
  memory prim;
  Exec toPrim;
  Exec toUser;
  bool differs = false;

  enum class Dir { kIn, kOut };
  void init(Context& ctx, const memory::desc& userMd, const memory::desc& primMd, Dir dir) {
    user = memory(userMd, ctx.engine, DNNL_MEMORY_NONE);
    if (userMd == primMd) {
      prim = user;
      return;
    }
    differs = true;
    prim = memory(primMd, ctx.engine);
    if (dir == Dir::kIn) {
      toPrim = Exec(dnnl::reorder(user, prim), {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, prim}});
    } else {
      toUser = Exec(dnnl::reorder(prim, user), {{DNNL_ARG_FROM, prim}, {DNNL_ARG_TO, user}});
    }
  }
  void set(const float* p) { user.set_data_handle(const_cast<float*>(p)); }
  void pull(Context& ctx) const {
    if (differs) toPrim.run(ctx, "reorder");
  }
  void push(Context& ctx) const {
    if (differs) toUser.run(ctx, "reorder");
  }
};

memory scratchFor(Context& ctx, const memory::desc& md) { return memory(md, ctx.engine); }

// Plans are few (one per batch size seen); a linear search is cheaper than a map lookup.
template <typename P, typename Make>
P& findPlan(std::vector<std::unique_ptr<P>>& plans, int batch, Make&& make) {
  for (auto& p : plans) {
    if (p->batch == batch) return *p;
  }
  MURMUR_ENFORCE(batch >= 1, InputError, "batch size must be >= 1, got {}", batch);
  plans.push_back(make());
  return *plans.back();
}

// ---------------------------------------------------------------------------------------------
class Conv2d final : public Layer {
 public:
  Conv2d(Context& ctx, Dims3 in, int oc, int k, int stride, int pad, bool bias, ConvFormats fmt)
      : ctx_(ctx), in_(in), oc_(oc), k_(k), stride_(stride), pad_(pad), bias_(bias), fmt_(fmt) {
    checkFormat(fmt.src, in.c, "conv2d src");
    checkFormat(fmt.dst, oc, "conv2d dst");
    MURMUR_ENFORCE(oc > 0 && k > 0 && stride > 0 && pad >= 0, InputError,
                   "conv2d: bad geometry oc={} k={} stride={} pad={}", oc, k, stride, pad);
    out_ = {oc, (in.h + 2 * pad - k) / stride + 1, (in.w + 2 * pad - k) / stride + 1};
    MURMUR_ENFORCE(out_.h > 0 && out_.w > 0, InputError,
                   "conv2d: kernel {} larger than padded input {}x{}", k, in.h, in.w);
  }
  Dims3 inDims() const override { return in_; }
  Dims3 outDims() const override { return out_; }
  std::vector<ParamSpec> paramSpecs() const override {
    int64_t fanIn = int64_t{in_.c} * k_ * k_;
    std::vector<ParamSpec> s{{"weight", {oc_, in_.c, k_, k_}, Init::kUniformFanIn, fanIn}};
    if (bias_) s.push_back({"bias", {oc_}, Init::kUniformFanIn, fanIn});
    return s;
  }
  void bind(const std::vector<float*>& p, const std::vector<float*>& g,
            const std::vector<float*>&) override {
    weights_ = p.at(0);
    diffWeights_ = g.at(0);
    if (bias_) {
      bias_p_ = p.at(1);
      diffBias_ = g.at(1);
    }
  }

  void forward(int batch, const float* src, float* dst, bool) override {
    Plan& pl = plan(batch);
    pl.src.set(src);
    pl.dst.set(dst);
    pl.src.pull(ctx_);
    pl.weights.pull(ctx_);
    pl.fwd.run(ctx_, "conv2d forward");
    pl.dst.push(ctx_);
  }

  void backward(int batch, const float* src, const float*, const float* diff_dst,
                float* diff_src) override {
    Plan& pl = plan(batch);
    if (diff_src != nullptr) {
      pl.bdDiffDst.set(diff_dst);
      pl.bdDiffSrc.set(diff_src);
      pl.bdDiffDst.pull(ctx_);
      if (!pl.bdWeightsShared) pl.bdWeights.pull(ctx_);
      pl.bwdData.run(ctx_, "conv2d backward data");
      pl.bdDiffSrc.push(ctx_);
    }
    pl.bwSrc.set(src);
    pl.bwDiffDst.set(diff_dst);
    if (!pl.bwSrcShared) pl.bwSrc.pull(ctx_);
    // Shared with backward-data's copy, which is only filled when diff_src was requested.
    if (!pl.bwDiffDstShared || diff_src == nullptr) pl.bwDiffDst.pull(ctx_);
    pl.bwdWeights.run(ctx_, "conv2d backward weights");
    pl.bwDiffWeights.push(ctx_);
  }

 private:
  struct Plan {
    int batch = 0;
    Staged src, weights, dst;
    memory bias;
    Exec fwd;
    Staged bdDiffDst, bdWeights, bdDiffSrc;
    bool bdWeightsShared = false;
    Exec bwdData;
    Staged bwSrc, bwDiffDst, bwDiffWeights;
    bool bwSrcShared = false, bwDiffDstShared = false;
    memory diffBias;
    Exec bwdWeights;
  };

  Plan& plan(int batch) {
    return findPlan(plans_, batch,
                    [&] { return dnnlCall("conv2d setup", [&] { return build(batch); }); });
  }

  std::unique_ptr<Plan> build(int batch) {
    using namespace dnnl;
    auto pl = std::make_unique<Plan>();
    pl->batch = batch;
    auto& eng = ctx_.engine;
    memory::dims srcDims = nchw(batch, in_), dstDims = nchw(batch, out_);
    memory::dims wDims = {oc_, in_.c, k_, k_}, bDims = {oc_};
    memory::dims strides = {stride_, stride_}, padding = {pad_, pad_};
    auto attr = userScratchpad();
    memory::desc bMd = bias_ ? plainMd(bDims, Tag::x) : memory::desc();

    // NHWC activations: give both ends explicitly (an nhwc src with an `any` dst makes oneDNN
    // 2.6 fall back to ref:any), for backward too, so no reorders run at all.
    const bool nhwc = fmt_.src == Format::kNhwc && fmt_.dst == Format::kNhwc;
    auto actMd = [&](const memory::dims& d) { return nhwc ? plainMd(d, Tag::nhwc) : anyMd(d); };
    convolution_forward::desc fd(prop_kind::forward_training, algorithm::convolution_direct,
                                 actMd(srcDims), anyMd(wDims), bMd, actMd(dstDims), strides,
                                 padding, padding);
    convolution_forward::primitive_desc fpd(fd, attr, eng);
    pl->src.init(ctx_, plainMd(srcDims, tagOf(fmt_.src)), fpd.src_desc(), Staged::Dir::kIn);
    pl->weights.init(ctx_, plainMd(wDims, Tag::oihw), fpd.weights_desc(), Staged::Dir::kIn);
    pl->weights.set(weights_);
    pl->dst.init(ctx_, plainMd(dstDims, tagOf(fmt_.dst)), fpd.dst_desc(), Staged::Dir::kOut);
    pl->fwd = Exec(convolution_forward(fpd),
                   {{DNNL_ARG_SRC, pl->src.prim},
                    {DNNL_ARG_WEIGHTS, pl->weights.prim},
                    {DNNL_ARG_DST, pl->dst.prim},
                    {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, fpd.scratchpad_desc())}});
    if (bias_) {
      pl->bias = memory(bMd, eng, bias_p_);
      pl->fwd.add(DNNL_ARG_BIAS, pl->bias);
    }

    // With few input channels (lenet5's 6, mnist-cnn's 10) `any` picks 16-channel blocks padded
    // from 6 and an AVX2 weights kernel; NHWC backward runs the AVX-512 kernels without the
    // padding (conv2 of lenet5 at batch 64: backward weights 0.55 -> 0.33 ms).
    const bool nhwcBwd = nhwc || (in_.c % 16 != 0 && in_.c > 1);
    auto bwdMd = [&](const memory::dims& d) { return nhwcBwd ? plainMd(d, Tag::nhwc) : anyMd(d); };
    convolution_backward_data::desc bdd(algorithm::convolution_direct, bwdMd(srcDims), anyMd(wDims),
                                        bwdMd(dstDims), strides, padding, padding);
    convolution_backward_data::primitive_desc bdpd(bdd, attr, eng, fpd);
    pl->bdDiffDst.init(ctx_, plainMd(dstDims, tagOf(fmt_.dst)), bdpd.diff_dst_desc(),
                       Staged::Dir::kIn);
    if (bdpd.weights_desc() == fpd.weights_desc()) {
      // Forward already reordered this step's weights into the same layout.
      pl->bdWeights.user = pl->weights.user;
      pl->bdWeights.prim = pl->weights.prim;
      pl->bdWeightsShared = true;
    } else {
      pl->bdWeights.init(ctx_, plainMd(wDims, Tag::oihw), bdpd.weights_desc(), Staged::Dir::kIn);
      pl->bdWeights.set(weights_);
    }
    pl->bdDiffSrc.init(ctx_, plainMd(srcDims, tagOf(fmt_.src)), bdpd.diff_src_desc(),
                       Staged::Dir::kOut);
    pl->bwdData = Exec(convolution_backward_data(bdpd),
                       {{DNNL_ARG_DIFF_DST, pl->bdDiffDst.prim},
                        {DNNL_ARG_WEIGHTS, pl->bdWeights.prim},
                        {DNNL_ARG_DIFF_SRC, pl->bdDiffSrc.prim},
                        {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, bdpd.scratchpad_desc())}});

    convolution_backward_weights::desc bwd(algorithm::convolution_direct, bwdMd(srcDims),
                                           anyMd(wDims), bMd, bwdMd(dstDims), strides, padding,
                                           padding);
    convolution_backward_weights::primitive_desc bwpd(bwd, attr, eng, fpd);
    if (bwpd.src_desc() == fpd.src_desc() && pl->src.differs) {
      // Forward's reordered copy of src is still current at backward time.
      pl->bwSrc.user = memory(plainMd(srcDims, tagOf(fmt_.src)), eng, DNNL_MEMORY_NONE);
      pl->bwSrc.prim = pl->src.prim;
      pl->bwSrcShared = true;
    } else {
      pl->bwSrc.init(ctx_, plainMd(srcDims, tagOf(fmt_.src)), bwpd.src_desc(), Staged::Dir::kIn);
    }
    if (bwpd.diff_dst_desc() == bdpd.diff_dst_desc() && pl->bdDiffDst.differs) {
      pl->bwDiffDst = pl->bdDiffDst;
      pl->bwDiffDstShared = true;
    } else {
      pl->bwDiffDst.init(ctx_, plainMd(dstDims, tagOf(fmt_.dst)), bwpd.diff_dst_desc(),
                         Staged::Dir::kIn);
    }
    pl->bwDiffWeights.init(ctx_, plainMd(wDims, Tag::oihw), bwpd.diff_weights_desc(),
                           Staged::Dir::kOut);
    pl->bwDiffWeights.set(diffWeights_);
    pl->bwdWeights = Exec(convolution_backward_weights(bwpd),
                          {{DNNL_ARG_SRC, pl->bwSrc.prim},
                           {DNNL_ARG_DIFF_DST, pl->bwDiffDst.prim},
                           {DNNL_ARG_DIFF_WEIGHTS, pl->bwDiffWeights.prim},
                           {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, bwpd.scratchpad_desc())}});
    if (bias_) {
      pl->diffBias = memory(bMd, eng, diffBias_);
      pl->bwdWeights.add(DNNL_ARG_DIFF_BIAS, pl->diffBias);
    }
    return pl;
  }

  Context& ctx_;
  Dims3 in_, out_;
  int oc_, k_, stride_, pad_;
  bool bias_;
  ConvFormats fmt_;
  float* weights_ = nullptr;
  float* bias_p_ = nullptr;
  float* diffWeights_ = nullptr;
  float* diffBias_ = nullptr;
  std::vector<std::unique_ptr<Plan>> plans_;
};

// ---------------------------------------------------------------------------------------------
class ReLU final : public Layer {
 public:
  ReLU(Context& ctx, Dims3 in, Format fmt) : ctx_(ctx), in_(in), fmt_(fmt) {
    checkFormat(fmt, in.c, "relu");
  }
  Dims3 inDims() const override { return in_; }
  Dims3 outDims() const override { return in_; }
  void forward(int batch, const float* src, float* dst, bool) override {
    Plan& pl = plan(batch);
    pl.src.set_data_handle(const_cast<float*>(src));
    pl.dst.set_data_handle(dst);
    pl.fwd.run(ctx_, "relu forward");
  }
  void backward(int batch, const float* src, const float*, const float* diff_dst,
                float* diff_src) override {
    if (diff_src == nullptr) return;
    Plan& pl = plan(batch);
    pl.src.set_data_handle(const_cast<float*>(src));
    pl.diffDst.set_data_handle(const_cast<float*>(diff_dst));
    pl.diffSrc.set_data_handle(diff_src);
    pl.bwd.run(ctx_, "relu backward");
  }

 private:
  struct Plan {
    int batch = 0;
    memory src, dst, diffDst, diffSrc;
    Exec fwd, bwd;
  };
  Plan& plan(int batch) {
    return findPlan(plans_, batch, [&] {
      return dnnlCall("relu setup", [&] {
        using namespace dnnl;
        auto pl = std::make_unique<Plan>();
        pl->batch = batch;
        auto md = plainMd(nchw(batch, in_), tagOf(fmt_));
        auto attr = userScratchpad();
        eltwise_forward::desc fd(prop_kind::forward_training, algorithm::eltwise_relu, md, 0.f,
                                 0.f);
        eltwise_forward::primitive_desc fpd(fd, attr, ctx_.engine);
        eltwise_backward::desc bd(algorithm::eltwise_relu, md, md, 0.f, 0.f);
        eltwise_backward::primitive_desc bpd(bd, attr, ctx_.engine, fpd);
        for (memory* m : {&pl->src, &pl->dst, &pl->diffDst, &pl->diffSrc}) {
          *m = memory(md, ctx_.engine, DNNL_MEMORY_NONE);
        }
        pl->fwd = Exec(eltwise_forward(fpd),
                       {{DNNL_ARG_SRC, pl->src},
                        {DNNL_ARG_DST, pl->dst},
                        {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, fpd.scratchpad_desc())}});
        pl->bwd = Exec(eltwise_backward(bpd),
                       {{DNNL_ARG_SRC, pl->src},
                        {DNNL_ARG_DIFF_DST, pl->diffDst},
                        {DNNL_ARG_DIFF_SRC, pl->diffSrc},
                        {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, bpd.scratchpad_desc())}});
        return pl;
      });
    });
  }
  Context& ctx_;
  Dims3 in_;
  Format fmt_;
  std::vector<std::unique_ptr<Plan>> plans_;
};

// ---------------------------------------------------------------------------------------------
// Max pooling (with workspace for backward) or global average pooling.
class Pool final : public Layer {
 public:
  Pool(Context& ctx, Dims3 in, bool max, int kh, int kw, int stride, Format fmt)
      : ctx_(ctx), in_(in), max_(max), kh_(kh), kw_(kw), stride_(stride), fmt_(fmt) {
    checkFormat(fmt, in.c, "pool");
    MURMUR_ENFORCE(kh > 0 && kw > 0 && stride > 0 && kh <= in.h && kw <= in.w, InputError,
                   "pool: kernel {}x{} stride {} does not fit input {}x{}", kh, kw, stride, in.h,
                   in.w);
    out_ = {in.c, (in.h - kh) / stride + 1, (in.w - kw) / stride + 1};
  }
  Dims3 inDims() const override { return in_; }
  Dims3 outDims() const override { return out_; }
  void forward(int batch, const float* src, float* dst, bool) override {
    Plan& pl = plan(batch);
    pl.src.set_data_handle(const_cast<float*>(src));
    pl.dst.set_data_handle(dst);
    pl.fwd.run(ctx_, "pool forward");
  }
  void backward(int batch, const float*, const float*, const float* diff_dst,
                float* diff_src) override {
    if (diff_src == nullptr) return;
    Plan& pl = plan(batch);
    pl.diffDst.set_data_handle(const_cast<float*>(diff_dst));
    pl.diffSrc.set_data_handle(diff_src);
    pl.bwd.run(ctx_, "pool backward");
  }

 private:
  struct Plan {
    int batch = 0;
    memory src, dst, diffDst, diffSrc, workspace;
    Exec fwd, bwd;
  };
  Plan& plan(int batch) {
    return findPlan(plans_, batch, [&] {
      return dnnlCall("pool setup", [&] {
        using namespace dnnl;
        auto pl = std::make_unique<Plan>();
        pl->batch = batch;
        auto srcMd = plainMd(nchw(batch, in_), tagOf(fmt_));
        auto dstMd = plainMd(nchw(batch, out_), tagOf(fmt_));
        auto attr = userScratchpad();
        memory::dims strides = {stride_, stride_}, kernel = {kh_, kw_}, pad = {0, 0};
        auto alg = max_ ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
        pooling_forward::desc fd(prop_kind::forward_training, alg, srcMd, dstMd, strides, kernel,
                                 pad, pad);
        pooling_forward::primitive_desc fpd(fd, attr, ctx_.engine);
        pooling_backward::desc bd(alg, srcMd, dstMd, strides, kernel, pad, pad);
        pooling_backward::primitive_desc bpd(bd, attr, ctx_.engine, fpd);
        pl->src = memory(srcMd, ctx_.engine, DNNL_MEMORY_NONE);
        pl->diffSrc = memory(srcMd, ctx_.engine, DNNL_MEMORY_NONE);
        pl->dst = memory(dstMd, ctx_.engine, DNNL_MEMORY_NONE);
        pl->diffDst = memory(dstMd, ctx_.engine, DNNL_MEMORY_NONE);
        pl->fwd = Exec(pooling_forward(fpd),
                       {{DNNL_ARG_SRC, pl->src},
                        {DNNL_ARG_DST, pl->dst},
                        {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, fpd.scratchpad_desc())}});
        pl->bwd = Exec(pooling_backward(bpd),
                       {{DNNL_ARG_DIFF_DST, pl->diffDst},
                        {DNNL_ARG_DIFF_SRC, pl->diffSrc},
                        {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, bpd.scratchpad_desc())}});
        if (max_) {
          pl->workspace = memory(fpd.workspace_desc(), ctx_.engine);
          pl->fwd.add(DNNL_ARG_WORKSPACE, pl->workspace);
          pl->bwd.add(DNNL_ARG_WORKSPACE, pl->workspace);
        }
        return pl;
      });
    });
  }
  Context& ctx_;
  Dims3 in_, out_;
  bool max_;
  int kh_, kw_, stride_;
  Format fmt_;
  std::vector<std::unique_ptr<Plan>> plans_;
};

// ---------------------------------------------------------------------------------------------
class Linear final : public Layer {
 public:
  Linear(Context& ctx, Dims3 in, int out, bool bias) : ctx_(ctx), in_(in), out_(out), bias_(bias) {
    MURMUR_ENFORCE(out > 0 && in.size() > 0, InputError, "linear: bad shape {} -> {}", in.size(),
                   out);
  }
  Dims3 inDims() const override { return in_; }
  Dims3 outDims() const override { return {out_, 1, 1}; }
  std::vector<ParamSpec> paramSpecs() const override {
    std::vector<ParamSpec> s{{"weight", {out_, in_.size()}, Init::kUniformFanIn, in_.size()}};
    if (bias_) s.push_back({"bias", {out_}, Init::kUniformFanIn, in_.size()});
    return s;
  }
  void bind(const std::vector<float*>& p, const std::vector<float*>& g,
            const std::vector<float*>&) override {
    weights_ = p.at(0);
    diffWeights_ = g.at(0);
    if (bias_) {
      bias_p_ = p.at(1);
      diffBias_ = g.at(1);
    }
  }
  void forward(int batch, const float* src, float* dst, bool) override {
    Plan& pl = plan(batch);
    pl.src.set_data_handle(const_cast<float*>(src));
    pl.dst.set_data_handle(dst);
    pl.fwd.run(ctx_, "linear forward");
  }
  void backward(int batch, const float* src, const float*, const float* diff_dst,
                float* diff_src) override {
    Plan& pl = plan(batch);
    pl.diffDst.set_data_handle(const_cast<float*>(diff_dst));
    if (diff_src != nullptr) {
      pl.diffSrc.set_data_handle(diff_src);
      pl.bwdData.run(ctx_, "linear backward data");
    }
    pl.src.set_data_handle(const_cast<float*>(src));
    pl.bwdWeights.run(ctx_, "linear backward weights");
  }

 private:
  struct Plan {
    int batch = 0;
    memory src, dst, diffSrc, diffDst, weights, bias, diffWeights, diffBias;
    Exec fwd, bwdData, bwdWeights;
  };
  Plan& plan(int batch) {
    return findPlan(plans_, batch, [&] {
      return dnnlCall("linear setup", [&] {
        using namespace dnnl;
        auto& eng = ctx_.engine;
        auto pl = std::make_unique<Plan>();
        pl->batch = batch;
        auto srcMd = plainMd({batch, in_.size()}, Tag::nc);
        auto dstMd = plainMd({batch, out_}, Tag::nc);
        auto wMd = plainMd({out_, in_.size()}, Tag::oi);
        auto bMd = bias_ ? plainMd({out_}, Tag::x) : memory::desc();
        auto attr = userScratchpad();
        inner_product_forward::desc fd(prop_kind::forward_training, srcMd, wMd, bMd, dstMd);
        inner_product_forward::primitive_desc fpd(fd, attr, eng);
        inner_product_backward_data::desc bdd(srcMd, wMd, dstMd);
        inner_product_backward_data::primitive_desc bdpd(bdd, attr, eng, fpd);
        inner_product_backward_weights::desc bwd(srcMd, wMd, bMd, dstMd);
        inner_product_backward_weights::primitive_desc bwpd(bwd, attr, eng, fpd);
        pl->src = memory(srcMd, eng, DNNL_MEMORY_NONE);
        pl->diffSrc = memory(srcMd, eng, DNNL_MEMORY_NONE);
        pl->dst = memory(dstMd, eng, DNNL_MEMORY_NONE);
        pl->diffDst = memory(dstMd, eng, DNNL_MEMORY_NONE);
        pl->weights = memory(wMd, eng, weights_);
        pl->diffWeights = memory(wMd, eng, diffWeights_);
        pl->fwd = Exec(inner_product_forward(fpd),
                       {{DNNL_ARG_SRC, pl->src},
                        {DNNL_ARG_WEIGHTS, pl->weights},
                        {DNNL_ARG_DST, pl->dst},
                        {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, fpd.scratchpad_desc())}});
        pl->bwdData = Exec(inner_product_backward_data(bdpd),
                           {{DNNL_ARG_DIFF_DST, pl->diffDst},
                            {DNNL_ARG_WEIGHTS, pl->weights},
                            {DNNL_ARG_DIFF_SRC, pl->diffSrc},
                            {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, bdpd.scratchpad_desc())}});
        pl->bwdWeights = Exec(inner_product_backward_weights(bwpd),
                              {{DNNL_ARG_SRC, pl->src},
                               {DNNL_ARG_DIFF_DST, pl->diffDst},
                               {DNNL_ARG_DIFF_WEIGHTS, pl->diffWeights},
                               {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, bwpd.scratchpad_desc())}});
        if (bias_) {
          pl->bias = memory(bMd, eng, bias_p_);
          pl->diffBias = memory(bMd, eng, diffBias_);
          pl->fwd.add(DNNL_ARG_BIAS, pl->bias);
          pl->bwdWeights.add(DNNL_ARG_DIFF_BIAS, pl->diffBias);
        }
        return pl;
      });
    });
  }
  Context& ctx_;
  Dims3 in_;
  int out_;
  bool bias_;
  float* weights_ = nullptr;
  float* bias_p_ = nullptr;
  float* diffWeights_ = nullptr;
  float* diffBias_ = nullptr;
  std::vector<std::unique_ptr<Plan>> plans_;
};

// ---------------------------------------------------------------------------------------------
class BatchNorm2d final : public Layer {
 public:
  BatchNorm2d(Context& ctx, Dims3 in, float momentum, float eps, Format fmt)
      : ctx_(ctx), in_(in), momentum_(momentum), eps_(eps), fmt_(fmt) {
    checkFormat(fmt, in.c, "batchnorm");
    MURMUR_ENFORCE(momentum >= 0.f && momentum <= 1.f && eps > 0.f, InputError,
                   "batchnorm: momentum {} must be in [0,1] and eps {} > 0", momentum, eps);
  }
  Dims3 inDims() const override { return in_; }
  Dims3 outDims() const override { return in_; }
  std::vector<ParamSpec> paramSpecs() const override {
    return {{"weight", {in_.c}, Init::kOnes, 1}, {"bias", {in_.c}, Init::kZeros, 1}};
  }
  std::vector<ParamSpec> bufferSpecs() const override {
    return {{"running_mean", {in_.c}, Init::kZeros, 1}, {"running_var", {in_.c}, Init::kOnes, 1}};
  }
  void bind(const std::vector<float*>& p, const std::vector<float*>& g,
            const std::vector<float*>& b) override {
    scale_ = p.at(0);
    shift_ = p.at(1);
    diffScale_ = g.at(0);
    diffShift_ = g.at(1);
    runningMean_ = b.at(0);
    runningVar_ = b.at(1);
  }
  void forward(int batch, const float* src, float* dst, bool training) override {
    Plan& pl = plan(batch);
    pl.src.set_data_handle(const_cast<float*>(src));
    pl.dst.set_data_handle(dst);
    if (!training) {
      pl.fwdInfer.run(ctx_, "batchnorm inference");
      return;
    }
    pl.fwdTrain.run(ctx_, "batchnorm forward");
    // PyTorch semantics: running variance tracks the UNBIASED batch variance.
    const int64_t n = int64_t{batch} * in_.h * in_.w;
    const float unbias = n > 1 ? static_cast<float>(n) / static_cast<float>(n - 1) : 1.f;
    const auto* mean = static_cast<const float*>(pl.mean.get_data_handle());
    const auto* var = static_cast<const float*>(pl.var.get_data_handle());
    for (int c = 0; c < in_.c; ++c) {
      runningMean_[c] = (1.f - momentum_) * runningMean_[c] + momentum_ * mean[c];
      runningVar_[c] = (1.f - momentum_) * runningVar_[c] + momentum_ * var[c] * unbias;
    }
  }
  void backward(int batch, const float* src, const float*, const float* diff_dst,
                float* diff_src) override {
    Plan& pl = plan(batch);
    pl.src.set_data_handle(const_cast<float*>(src));
    pl.diffDst.set_data_handle(const_cast<float*>(diff_dst));
    if (diff_src == nullptr && pl.sink.size() == 0) {
      pl.sink = FloatBuffer(static_cast<size_t>(batch) * in_.size());
    }
    pl.diffSrc.set_data_handle(diff_src != nullptr ? diff_src : pl.sink.data());
    pl.bwd.run(ctx_, "batchnorm backward");
  }

 private:
  struct Plan {
    int batch = 0;
    memory src, dst, diffDst, diffSrc, mean, var, scale, shift, diffScale, diffShift, rMean, rVar;
    FloatBuffer sink;  // diff_src when the caller does not want it (allocated on first need)
    Exec fwdTrain, fwdInfer, bwd;
  };
  Plan& plan(int batch) {
    return findPlan(plans_, batch, [&] {
      return dnnlCall("batchnorm setup", [&] {
        using namespace dnnl;
        auto& eng = ctx_.engine;
        auto pl = std::make_unique<Plan>();
        pl->batch = batch;
        auto md = plainMd(nchw(batch, in_), tagOf(fmt_));
        auto cMd = plainMd({in_.c}, Tag::x);
        auto attr = userScratchpad();
        auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
        batch_normalization_forward::desc ftd(prop_kind::forward_training, md, eps_, flags);
        batch_normalization_forward::primitive_desc ftpd(ftd, attr, eng);
        batch_normalization_forward::desc fid(prop_kind::forward_inference, md, eps_,
                                              flags | normalization_flags::use_global_stats);
        batch_normalization_forward::primitive_desc fipd(fid, attr, eng);
        batch_normalization_backward::desc bd(prop_kind::backward, md, md, eps_, flags);
        batch_normalization_backward::primitive_desc bpd(bd, attr, eng, ftpd);
        for (memory* m : {&pl->src, &pl->dst, &pl->diffDst, &pl->diffSrc}) {
          *m = memory(md, eng, DNNL_MEMORY_NONE);
        }
        pl->mean = memory(cMd, eng);
        pl->var = memory(cMd, eng);
        pl->scale = memory(cMd, eng, scale_);
        pl->shift = memory(cMd, eng, shift_);
        pl->diffScale = memory(cMd, eng, diffScale_);
        pl->diffShift = memory(cMd, eng, diffShift_);
        pl->rMean = memory(cMd, eng, runningMean_);
        pl->rVar = memory(cMd, eng, runningVar_);
        pl->fwdTrain = Exec(batch_normalization_forward(ftpd),
                            {{DNNL_ARG_SRC, pl->src},
                             {DNNL_ARG_DST, pl->dst},
                             {DNNL_ARG_SCALE, pl->scale},
                             {DNNL_ARG_SHIFT, pl->shift},
                             {DNNL_ARG_MEAN, pl->mean},
                             {DNNL_ARG_VARIANCE, pl->var},
                             {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, ftpd.scratchpad_desc())}});
        pl->fwdInfer = Exec(batch_normalization_forward(fipd),
                            {{DNNL_ARG_SRC, pl->src},
                             {DNNL_ARG_DST, pl->dst},
                             {DNNL_ARG_SCALE, pl->scale},
                             {DNNL_ARG_SHIFT, pl->shift},
                             {DNNL_ARG_MEAN, pl->rMean},
                             {DNNL_ARG_VARIANCE, pl->rVar},
                             {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, fipd.scratchpad_desc())}});
        pl->bwd = Exec(batch_normalization_backward(bpd),
                       {{DNNL_ARG_SRC, pl->src},
                        {DNNL_ARG_MEAN, pl->mean},
                        {DNNL_ARG_VARIANCE, pl->var},
                        {DNNL_ARG_DIFF_DST, pl->diffDst},
                        {DNNL_ARG_SCALE, pl->scale},
                        {DNNL_ARG_SHIFT, pl->shift},
                        {DNNL_ARG_DIFF_SRC, pl->diffSrc},
                        {DNNL_ARG_DIFF_SCALE, pl->diffScale},
                        {DNNL_ARG_DIFF_SHIFT, pl->diffShift},
                        {DNNL_ARG_SCRATCHPAD, scratchFor(ctx_, bpd.scratchpad_desc())}});
        return pl;
      });
    });
  }
  Context& ctx_;
  Dims3 in_;
  float momentum_, eps_;
  Format fmt_;
  float *scale_ = nullptr, *shift_ = nullptr, *diffScale_ = nullptr, *diffShift_ = nullptr;
  float *runningMean_ = nullptr, *runningVar_ = nullptr;
  std::vector<std::unique_ptr<Plan>> plans_;
};

// ---------------------------------------------------------------------------------------------
// Hand-written: a mask and a multiply; the mask comes from a seeded generator so runs repeat.
class Dropout final : public Layer {
 public:
  Dropout(Dims3 in, float p, bool channelwise, uint64_t seed, Format fmt)
      : in_(in), p_(p), channelwise_(channelwise), fmt_(fmt), rng_(seed) {
    MURMUR_ENFORCE(fmt != Format::kBlocked16 || !channelwise, InputError,
                   "dropout: channelwise dropout supports NCHW and NHWC only");
    MURMUR_ENFORCE(p >= 0.f && p < 1.f, InputError, "dropout: p={} must be in [0,1)", p);
  }
  Dims3 inDims() const override { return in_; }
  Dims3 outDims() const override { return in_; }
  void reseed(uint64_t seed) override { rng_.seed(seed); }
  void forward(int batch, const float* src, float* dst, bool training) override {
    const size_t n = static_cast<size_t>(batch) * static_cast<size_t>(in_.size());
    if (!training || p_ == 0.f) {
      if (dst != src) std::memcpy(dst, src, n * sizeof(float));
      lastTrainingBatch_ = training ? batch : -1;
      maskValid_ = false;
      return;
    }
    FloatBuffer& mask = maskFor(batch);
    const float scale = 1.f / (1.f - p_);
    // Keep iff a 24-bit uniform draw is >= p: exact, portable, independent of <random>'s
    // distribution implementations.
    const auto threshold = static_cast<uint64_t>(static_cast<double>(p_) * (1u << 24));
    const size_t plane = static_cast<size_t>(in_.h) * static_cast<size_t>(in_.w);
    const size_t units = channelwise_ ? n / plane : n;
    const size_t per = channelwise_ ? plane : 1;
    float* m = mask.data();
    const size_t channels = static_cast<size_t>(in_.c);
    for (size_t u = 0; u < units; ++u) {
      const float v = ((rng_() >> 40) >= threshold) ? scale : 0.f;
      if (channelwise_ && fmt_ == Format::kNhwc) {
        // unit u = (sample, channel); its plane is strided by C.
        const size_t sample = u / channels, c = u % channels;
        for (size_t j = 0; j < per; ++j) m[(sample * per + j) * channels + c] = v;
      } else {
        for (size_t j = 0; j < per; ++j) m[u * per + j] = v;
      }
    }
    for (size_t i = 0; i < n; ++i) dst[i] = src[i] * m[i];
    lastTrainingBatch_ = batch;
    maskValid_ = true;
  }
  void backward(int batch, const float*, const float*, const float* diff_dst,
                float* diff_src) override {
    if (diff_src == nullptr) return;
    const size_t n = static_cast<size_t>(batch) * static_cast<size_t>(in_.size());
    MURMUR_CHECK(batch == lastTrainingBatch_, "dropout backward without a matching forward");
    if (!maskValid_) {
      if (diff_src != diff_dst) std::memcpy(diff_src, diff_dst, n * sizeof(float));
      return;
    }
    const float* m = maskFor(batch).data();
    for (size_t i = 0; i < n; ++i) diff_src[i] = diff_dst[i] * m[i];
  }

 private:
  FloatBuffer& maskFor(int batch) {
    auto it = masks_.find(batch);
    if (it == masks_.end()) {
      it = masks_.emplace(batch, FloatBuffer(static_cast<size_t>(batch) * in_.size())).first;
    }
    return it->second;
  }
  Dims3 in_;
  float p_;
  bool channelwise_;
  Format fmt_;
  std::mt19937_64 rng_;
  std::map<int, FloatBuffer> masks_;
  int lastTrainingBatch_ = -1;
  bool maskValid_ = false;
};

// ---------------------------------------------------------------------------------------------
class Flatten final : public Layer {
 public:
  Flatten(Dims3 in, Format fmt)
      : in_(in), transpose_(fmt == Format::kNhwc && (in.h > 1 || in.w > 1)) {
    MURMUR_ENFORCE(fmt != Format::kBlocked16 || (in.h == 1 && in.w == 1), InputError,
                   "flatten: blocked input must be 1x1 spatially, got {}x{}", in.h, in.w);
  }
  Dims3 inDims() const override { return in_; }
  Dims3 outDims() const override { return {static_cast<int>(in_.size()), 1, 1}; }
  bool isView() const override { return !transpose_; }
  void forward(int batch, const float* src, float* dst, bool) override {
    if (transpose_) {
      transpose(batch, src, dst, true);
    } else if (dst != src) {
      std::memcpy(dst, src, static_cast<size_t>(batch) * in_.size() * sizeof(float));
    }
  }
  void backward(int batch, const float*, const float*, const float* diff_dst,
                float* diff_src) override {
    if (diff_src == nullptr) return;
    if (transpose_) {
      transpose(batch, diff_dst, diff_src, false);
    } else if (diff_src != diff_dst) {
      std::memcpy(diff_src, diff_dst, static_cast<size_t>(batch) * in_.size() * sizeof(float));
    }
  }

 private:
  // NHWC -> NCHW (toNchw) or back, per sample.
  void transpose(int batch, const float* from, float* to, bool toNchw) const {
    const size_t C = static_cast<size_t>(in_.c), HW = static_cast<size_t>(in_.h) * in_.w;
    for (size_t n = 0; n < static_cast<size_t>(batch); ++n) {
      const float* f = from + n * C * HW;
      float* t = to + n * C * HW;
      for (size_t c = 0; c < C; ++c) {
        for (size_t j = 0; j < HW; ++j) {
          if (toNchw) {
            t[c * HW + j] = f[j * C + c];
          } else {
            t[j * C + c] = f[c * HW + j];
          }
        }
      }
    }
  }
  Dims3 in_;
  bool transpose_;
};

std::vector<ParamSpec> prefixed(std::vector<ParamSpec> specs, const std::string& prefix) {
  for (auto& s : specs) s.name = prefix + "." + s.name;
  return specs;
}

// ---------------------------------------------------------------------------------------------
class BasicBlock final : public Layer {
 public:
  BasicBlock(Context& ctx, Dims3 in, int oc, int stride, Format fmt) : in_(in), main_(in) {
    const ConvFormats cf{fmt, fmt};
    main_.add("conv1", makeConv2d(ctx, in, oc, 3, stride, 1, false, cf));
    Dims3 mid = main_.outDims();
    main_.add("bn1", makeBatchNorm2d(ctx, mid, 0.1f, 1e-5f, fmt));
    main_.add("relu", makeReLU(ctx, mid, fmt));
    main_.add("conv2", makeConv2d(ctx, mid, oc, 3, 1, 1, false, cf));
    main_.add("bn2", makeBatchNorm2d(ctx, main_.outDims(), 0.1f, 1e-5f, fmt));
    out_ = main_.outDims();
    if (stride != 1 || oc != in.c) {
      shortcut_ = std::make_unique<Sequential>(in);
      shortcut_->add("0", makeConv2d(ctx, in, oc, 1, stride, 0, false, cf));
      shortcut_->add("1", makeBatchNorm2d(ctx, shortcut_->outDims(), 0.1f, 1e-5f, fmt));
      MURMUR_CHECK(shortcut_->outDims() == out_, "shortcut shape mismatch");
    }
  }
  Dims3 inDims() const override { return in_; }
  Dims3 outDims() const override { return out_; }
  std::vector<ParamSpec> paramSpecs() const override {
    auto s = main_.paramSpecs();
    if (shortcut_) {
      for (auto& p : prefixed(shortcut_->paramSpecs(), "shortcut")) s.push_back(p);
    }
    return s;
  }
  std::vector<ParamSpec> bufferSpecs() const override {
    auto s = main_.bufferSpecs();
    if (shortcut_) {
      for (auto& p : prefixed(shortcut_->bufferSpecs(), "shortcut")) s.push_back(p);
    }
    return s;
  }
  void bind(const std::vector<float*>& p, const std::vector<float*>& g,
            const std::vector<float*>& b) override {
    const size_t mp = main_.paramSpecs().size(), mb = main_.bufferSpecs().size();
    main_.bind({p.begin(), p.begin() + mp}, {g.begin(), g.begin() + mp},
               {b.begin(), b.begin() + mb});
    if (shortcut_) {
      shortcut_->bind({p.begin() + mp, p.end()}, {g.begin() + mp, g.end()},
                      {b.begin() + mb, b.end()});
    }
  }
  void reseed(uint64_t seed) override {
    main_.reseed(seed);
    if (shortcut_) shortcut_->reseed(seed + 1);
  }
  void forward(int batch, const float* src, float* dst, bool training) override {
    Plan& pl = plan(batch);
    main_.forward(batch, src, pl.mainOut.data(), training);
    const float* sc = src;
    if (shortcut_) {
      shortcut_->forward(batch, src, pl.scOut.data(), training);
      sc = pl.scOut.data();
    }
    const float* a = pl.mainOut.data();
    const size_t n = pl.mainOut.size();
    for (size_t i = 0; i < n; ++i) dst[i] = std::max(a[i] + sc[i], 0.f);
  }
  void backward(int batch, const float* src, const float* dst, const float* diff_dst,
                float* diff_src) override {
    Plan& pl = plan(batch);
    if (pl.diffSum.size() == 0) {
      // Gradient buffers only for batch sizes that train (evaluation chunks never need them).
      const size_t nOut = static_cast<size_t>(batch) * out_.size();
      const size_t nIn = static_cast<size_t>(batch) * in_.size();
      pl.diffSum = FloatBuffer(nOut);
      pl.diffMain = FloatBuffer(nIn);
      if (shortcut_) pl.diffSc = FloatBuffer(nIn);
    }
    float* g = pl.diffSum.data();
    const size_t n = pl.diffSum.size();
    for (size_t i = 0; i < n; ++i) g[i] = dst[i] > 0.f ? diff_dst[i] : 0.f;
    const size_t nIn = static_cast<size_t>(batch) * in_.size();
    float* dMain = diff_src != nullptr ? pl.diffMain.data() : nullptr;
    main_.backward(batch, src, pl.mainOut.data(), g, dMain);
    if (shortcut_) {
      float* dSc = diff_src != nullptr ? pl.diffSc.data() : nullptr;
      shortcut_->backward(batch, src, pl.scOut.data(), g, dSc);
      if (diff_src != nullptr) {
        for (size_t i = 0; i < nIn; ++i) diff_src[i] = dMain[i] + dSc[i];
      }
    } else if (diff_src != nullptr) {
      for (size_t i = 0; i < nIn; ++i) diff_src[i] = dMain[i] + g[i];
    }
  }

 private:
  struct Plan {
    int batch = 0;
    FloatBuffer mainOut, scOut, diffSum, diffMain, diffSc;
  };
  Plan& plan(int batch) {
    return findPlan(plans_, batch, [&] {
      auto pl = std::make_unique<Plan>();
      pl->batch = batch;
      const size_t nOut = static_cast<size_t>(batch) * out_.size();
      pl->mainOut = FloatBuffer(nOut);
      if (shortcut_) pl->scOut = FloatBuffer(nOut);
      return pl;
    });
  }
  Dims3 in_, out_;
  Sequential main_;
  std::unique_ptr<Sequential> shortcut_;
  std::vector<std::unique_ptr<Plan>> plans_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
std::shared_ptr<Context> makeContext() {
  return dnnlCall("engine creation", [] { return std::make_shared<Context>(); });
}

void Layer::bind(const std::vector<float*>&, const std::vector<float*>&,
                 const std::vector<float*>&) {}

std::unique_ptr<Layer> makeConv2d(Context& ctx, Dims3 in, int outChannels, int kernel, int stride,
                                  int padding, bool bias, ConvFormats formats) {
  return std::make_unique<Conv2d>(ctx, in, outChannels, kernel, stride, padding, bias, formats);
}
std::unique_ptr<Layer> makeReLU(Context& ctx, Dims3 in, Format format) {
  return std::make_unique<ReLU>(ctx, in, format);
}
std::unique_ptr<Layer> makeMaxPool2d(Context& ctx, Dims3 in, int kernel, int stride,
                                     Format format) {
  return std::make_unique<Pool>(ctx, in, true, kernel, kernel, stride, format);
}
std::unique_ptr<Layer> makeGlobalAvgPool(Context& ctx, Dims3 in, Format format) {
  return std::make_unique<Pool>(ctx, in, false, in.h, in.w, 1, format);
}
std::unique_ptr<Layer> makeLinear(Context& ctx, Dims3 in, int out, bool bias) {
  return std::make_unique<Linear>(ctx, in, out, bias);
}
std::unique_ptr<Layer> makeBatchNorm2d(Context& ctx, Dims3 in, float momentum, float eps,
                                       Format format) {
  return std::make_unique<BatchNorm2d>(ctx, in, momentum, eps, format);
}
std::unique_ptr<Layer> makeDropout(Dims3 in, float p, bool channelwise, uint64_t seed,
                                   Format format) {
  return std::make_unique<Dropout>(in, p, channelwise, seed, format);
}
std::unique_ptr<Layer> makeFlatten(Dims3 in, Format format) {
  return std::make_unique<Flatten>(in, format);
}
std::unique_ptr<Layer> makeBasicBlock(Context& ctx, Dims3 in, int outChannels, int stride,
                                      Format format) {
  return std::make_unique<BasicBlock>(ctx, in, outChannels, stride, format);
}

// ---------------------------------------------------------------------------------------------
// Memory: training keeps every intermediate activation (backward needs them): act[slot[i]] is
// the output of layer i (view layers reuse their input's slot; -1 = the caller's src). Inference
// and the backward pass's diffs only ever need two live tensors, so they ping-pong between two
// buffers of the largest intermediate size. All are allocated on first use per batch size, so a
// batch size that is only evaluated never allocates training storage.
struct Sequential::Plan {
  int batch = 0;
  std::vector<FloatBuffer> act;
  FloatBuffer ping[2];
  std::vector<int> slot;
  size_t numSlots = 0;
  size_t maxIntermediate = 0;

  float* other(const float* cur) {
    if (ping[0].size() == 0) {
      ping[0] = FloatBuffer(maxIntermediate);
      ping[1] = FloatBuffer(maxIntermediate);
    }
    return cur == ping[0].data() ? ping[1].data() : ping[0].data();
  }
};

Sequential::Sequential(Dims3 in) : in_(in) {}
Sequential::~Sequential() = default;

void Sequential::add(std::string name, std::unique_ptr<Layer> layer) {
  MURMUR_CHECK(layer->inDims() == outDims(), "layer {} input {}x{}x{} != previous output {}x{}x{}",
               name, layer->inDims().c, layer->inDims().h, layer->inDims().w, outDims().c,
               outDims().h, outDims().w);
  MURMUR_CHECK(plans_.empty(), "Sequential::add after first use");
  layers_.emplace_back(std::move(name), std::move(layer));
}

Dims3 Sequential::outDims() const {
  return layers_.empty() ? in_ : layers_.back().second->outDims();
}
size_t Sequential::size() const { return layers_.size(); }

std::vector<ParamSpec> Sequential::paramSpecs() const {
  std::vector<ParamSpec> out;
  for (const auto& [name, l] : layers_) {
    for (auto& s : prefixed(l->paramSpecs(), name)) out.push_back(std::move(s));
  }
  return out;
}
std::vector<ParamSpec> Sequential::bufferSpecs() const {
  std::vector<ParamSpec> out;
  for (const auto& [name, l] : layers_) {
    for (auto& s : prefixed(l->bufferSpecs(), name)) out.push_back(std::move(s));
  }
  return out;
}
void Sequential::bind(const std::vector<float*>& p, const std::vector<float*>& g,
                      const std::vector<float*>& b) {
  size_t ip = 0, ib = 0;
  for (auto& [name, l] : layers_) {
    const size_t np = l->paramSpecs().size(), nb = l->bufferSpecs().size();
    MURMUR_CHECK(ip + np <= p.size() && ib + nb <= b.size(), "bind: too few views for {}", name);
    l->bind({p.begin() + ip, p.begin() + ip + np}, {g.begin() + ip, g.begin() + ip + np},
            {b.begin() + ib, b.begin() + ib + nb});
    ip += np;
    ib += nb;
  }
}
void Sequential::reseed(uint64_t seed) {
  for (size_t i = 0; i < layers_.size(); ++i)
    layers_[i].second->reseed(seed + 0x9E3779B97F4A7C15ull * (i + 1));
}

Sequential::Plan& Sequential::plan(int batch) {
  return findPlan(plans_, batch, [&] {
    MURMUR_CHECK(!layers_.empty() && !layers_.back().second->isView(),
                 "Sequential must end with a computing layer");
    auto pl = std::make_unique<Plan>();
    pl->batch = batch;
    const size_t L = layers_.size();
    pl->slot.assign(L, -1);
    for (size_t i = 0; i + 1 < L; ++i) {
      if (layers_[i].second->isView()) {
        pl->slot[i] = i == 0 ? -1 : pl->slot[i - 1];
      } else {
        pl->slot[i] = static_cast<int>(pl->numSlots++);
        pl->maxIntermediate = std::max(
            pl->maxIntermediate, static_cast<size_t>(batch) * layers_[i].second->outDims().size());
      }
    }
    return pl;
  });
}

void Sequential::forward(int batch, const float* src, float* dst, bool training) {
  Plan& pl = plan(batch);
  const size_t L = layers_.size();
  if (training && pl.act.empty()) {
    for (size_t i = 0; i + 1 < L; ++i) {
      if (!layers_[i].second->isView()) {
        pl.act.emplace_back(static_cast<size_t>(batch) * layers_[i].second->outDims().size());
      }
    }
  }
  const float* cur = src;
  for (size_t i = 0; i < L; ++i) {
    Layer& l = *layers_[i].second;
    if (l.isView()) continue;  // never last (checked in plan)
    float* out = i + 1 == L ? dst : training ? pl.act[pl.slot[i]].data() : pl.other(cur);
    l.forward(batch, cur, out, training);
    cur = out;
  }
}

void Sequential::backward(int batch, const float* src, const float* dst, const float* diff_dst,
                          float* diff_src) {
  Plan& pl = plan(batch);
  MURMUR_CHECK(pl.act.size() == pl.numSlots, "Sequential::backward before a training forward");
  const size_t L = layers_.size();
  const float* cur = diff_dst;
  for (size_t i = L; i-- > 0;) {
    Layer& l = *layers_[i].second;
    if (l.isView()) continue;
    const int inSlot = i == 0 ? -1 : pl.slot[i - 1];
    const float* lsrc = inSlot < 0 ? src : pl.act[inSlot].data();
    const float* ldst = i + 1 == L ? dst : pl.act[pl.slot[i]].data();
    float* ldiffSrc = inSlot < 0 ? diff_src : pl.other(cur);
    l.backward(batch, lsrc, ldst, cur, ldiffSrc);
    cur = ldiffSrc;
  }
}

}  // namespace murmur::nn
