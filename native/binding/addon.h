// The per-instance state of the addon. Node loads the addon once per environment (the main
// thread and each worker thread), and each gets its own KilnAddon: its own kernel table, ISA
// choice and thread pool. Bindings reach it through the env's instance data.
#pragma once

#include <napi.h>

#include "../dispatch/cpu.h"
#include "../dispatch/table.h"
#include "../runtime/thread_pool.h"
#include "../runtime/workspace.h"

namespace kiln {

class KilnAddon : public Napi::Addon<KilnAddon> {
 public:
  KilnAddon(Napi::Env env, Napi::Object exports);

  static KilnAddon& of(const Napi::CallbackInfo& info) { return *info.Env().GetInstanceData<KilnAddon>(); }

  KernelTable table;
  ThreadPool pool;
  Workspace workspace;  // kernel scratch (packed panels, per-task buffers, offset tables), reused across calls
  Isa active = Isa::ref;
  bool forced = false;  // true when KILN_ISA or setIsa() chose the level

 private:
  Napi::Value Isa_(const Napi::CallbackInfo& info);
  Napi::Value SetIsa(const Napi::CallbackInfo& info);
  Napi::Value Threads(const Napi::CallbackInfo& info);
  Napi::Value SetThreads(const Napi::CallbackInfo& info);
  Napi::Value BuildInfo(const Napi::CallbackInfo& info);
  Napi::Value SchedIdle(const Napi::CallbackInfo& info);
  Napi::Value WorkspaceStats(const Napi::CallbackInfo& info);
  void select(Isa cap, bool forced_by_user);
};

// Each op family adds its exports (elementwise.cc, reduce.cc, ...).
void init_elementwise(Napi::Env env, Napi::Object exports);
void init_reduce(Napi::Env env, Napi::Object exports);
void init_gemm(Napi::Env env, Napi::Object exports);
void init_conv(Napi::Env env, Napi::Object exports);
void init_pool(Napi::Env env, Napi::Object exports);  // pooling and the option-A shortcut
void init_batchnorm(Napi::Env env, Napi::Object exports);
void init_sequence(Napi::Env env, Napi::Object exports);  // layer norm, softmax, cross-entropy, GELU, dropout, embedding
void init_attention(Napi::Env env, Napi::Object exports);
void init_optim(Napi::Env env, Napi::Object exports);  // SGD, Adam/AdamW, the global gradient norm

}  // namespace kiln
