#pragma once
// PRIVATE to nn/*.cpp: the only header that includes dnnl.hpp. Never include it from a header
// other folders see.

#include <dnnl.hpp>

#include <cstdlib>
#include <initializer_list>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "nn/layers.hpp"

namespace murmur::nn {

struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

// Runs f, turning dnnl::error into BackendError naming `where`.
template <typename F>
auto dnnlCall(const char* where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    throw BackendError(fmt::format("oneDNN failed in {}: {} (status {})", where, e.what(),
                                   static_cast<int>(e.status)));
  }
}

// A primitive with its argument list built once. dnnl::primitive::execute() builds a fresh
// std::vector of arguments per call; this calls the C API with the stored array instead, so
// executing allocates nothing. Memories are held to keep their handles alive; their data
// pointers may change (set_data_handle) without rebuilding the list.
class Exec {
 public:
  Exec() = default;
  Exec(dnnl::primitive p, std::initializer_list<std::pair<int, dnnl::memory>> args)
      : prim_(std::move(p)) {
    for (const auto& [arg, mem] : args) {
      mems_.push_back(mem);
      args_.push_back(dnnl_exec_arg_t{arg, mem.get()});
    }
  }
  void add(int arg, const dnnl::memory& mem) {
    mems_.push_back(mem);
    args_.push_back(dnnl_exec_arg_t{arg, mem.get()});
  }
  explicit operator bool() const { return static_cast<bool>(prim_); }
  void run(Context& ctx, const char* where) const {
    dnnl_status_t st = dnnl_primitive_execute(prim_.get(), ctx.stream.get(),
                                              static_cast<int>(args_.size()), args_.data());
    MURMUR_ENFORCE(st == dnnl_success, BackendError, "oneDNN failed executing {} (status {})",
                   where, static_cast<int>(st));
  }

 private:
  dnnl::primitive prim_;
  std::vector<dnnl::memory> mems_;
  std::vector<dnnl_exec_arg_t> args_;
};

// 64-byte aligned float storage that never reallocates behind a view's back.
class FloatBuffer {
 public:
  FloatBuffer() = default;
  explicit FloatBuffer(size_t n) : n_(n) {
    size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
    if (bytes == 0) bytes = 64;
    p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (p_ == nullptr) throw std::bad_alloc();
    for (size_t i = 0; i < n; ++i) p_[i] = 0.f;
  }
  ~FloatBuffer() { std::free(p_); }
  FloatBuffer(FloatBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  FloatBuffer& operator=(FloatBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  FloatBuffer(const FloatBuffer&) = delete;
  FloatBuffer& operator=(const FloatBuffer&) = delete;
  float* data() { return p_; }
  const float* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace murmur::nn
