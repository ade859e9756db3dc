// The addon: per-instance setup (ISA choice, thread pool) and the introspection exports.
//   isa()            what the CPU has, the active level, and which variant each op uses
//   setIsa(name)     cap the level ("ref" | "avx2" | "avx512"), or null for the CPU's best
//   threads()        the size of this instance's pool
//   setThreads(n)    resize it (1..256)
//   buildInfo()      which build system and compiler made this binary
//   schedIdle()      put the calling OS thread under SCHED_IDLE (Linux); see SchedIdle
//   workspaceStats() the scratch workspace's bytes reserved and how many times it allocated
#include "addon.h"

#if defined(__linux__)
#include <sched.h>
#endif

#include <cstdlib>
#include <string>

#include "args.h"

#ifndef KILN_BUILDER
#define KILN_BUILDER "unknown"
#endif

namespace kiln {

namespace {

// The level KILN_ISA asks for, or the CPU's best. A level the CPU lacks, or an unknown name, is
// an error at load time: silently running another path would make a benchmark or a bug report lie.
Isa initial_isa(Napi::Env env, bool* forced) {
  const CpuFeatures& cpu = cpu_features();
  const char* env_isa = std::getenv("KILN_ISA");
  *forced = env_isa != nullptr && *env_isa != '\0';
  if (!*forced) return best_isa(cpu);
  Isa isa;
  if (!parse_isa(env_isa, &isa)) {
    throw Napi::Error::New(env, std::string("KILN_ISA expected ref, avx2 or avx512, got \"") + env_isa + "\"");
  }
  if (!cpu_supports(cpu, isa)) {
    throw Napi::Error::New(env, std::string("KILN_ISA=") + env_isa + " but this CPU supports only up to " +
                                    isa_name(best_isa(cpu)));
  }
  return isa;
}

}  // namespace

KilnAddon::KilnAddon(Napi::Env env, Napi::Object exports) : pool(default_thread_count()) {
  bool by_user = false;
  Isa cap = initial_isa(env, &by_user);
  select(cap, by_user);
  DefineAddon(exports, {
                           InstanceMethod("isa", &KilnAddon::Isa_),
                           InstanceMethod("setIsa", &KilnAddon::SetIsa),
                           InstanceMethod("threads", &KilnAddon::Threads),
                           InstanceMethod("setThreads", &KilnAddon::SetThreads),
                           InstanceMethod("buildInfo", &KilnAddon::BuildInfo),
                           InstanceMethod("schedIdle", &KilnAddon::SchedIdle),
                           InstanceMethod("workspaceStats", &KilnAddon::WorkspaceStats),
                       });
  init_elementwise(env, exports);
  init_reduce(env, exports);
  init_gemm(env, exports);
  init_conv(env, exports);
  init_pool(env, exports);
  init_batchnorm(env, exports);
  init_sequence(env, exports);
  init_attention(env, exports);
  init_optim(env, exports);
}

void KilnAddon::select(Isa cap, bool forced_by_user) {
  table = make_kernel_table(cap);
  active = cap;
  forced = forced_by_user;
}

Napi::Value KilnAddon::Isa_(const Napi::CallbackInfo& info) {
  Args args(info, "isa", 0);
  Napi::Env env = info.Env();
  const CpuFeatures& c = cpu_features();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("x86_64", c.x86_64);
  cpu.Set("x86_64_v3", c.x86_64_v3);
  cpu.Set("x86_64_v4", c.x86_64_v4);
  cpu.Set("avx2", c.avx2);
  cpu.Set("fma", c.fma);
  cpu.Set("f16c", c.f16c);
  cpu.Set("avx512f", c.avx512f);
  cpu.Set("avx512bw", c.avx512bw);
  cpu.Set("avx512cd", c.avx512cd);
  cpu.Set("avx512dq", c.avx512dq);
  cpu.Set("avx512vl", c.avx512vl);
  cpu.Set("avx512vnni", c.avx512vnni);
  cpu.Set("avx512bf16", c.avx512bf16);

  Napi::Array supported = Napi::Array::New(env);
  uint32_t i = 0;
  for (Isa isa : {Isa::ref, Isa::avx2, Isa::avx512}) {
    if (cpu_supports(c, isa)) supported.Set(i++, isa_name(isa));
  }
  Napi::Object ops = Napi::Object::New(env);
  for_each_op(table, [&](const char* name, Isa isa) { ops.Set(name, isa_name(isa)); });

  Napi::Object out = Napi::Object::New(env);
  out.Set("cpu", cpu);
  out.Set("supported", supported);
  out.Set("best", isa_name(best_isa(c)));
  out.Set("active", isa_name(active));
  out.Set("forced", forced);
  out.Set("ops", ops);
  return out;
}

Napi::Value KilnAddon::SetIsa(const Napi::CallbackInfo& info) {
  Args args(info, "setIsa", 1);
  const CpuFeatures& c = cpu_features();
  if (info[0].IsNull()) {
    select(best_isa(c), false);
    return info.Env().Undefined();
  }
  if (!info[0].IsString()) args.type_error("name expected \"ref\", \"avx2\", \"avx512\" or null, got " + describe(info[0]));
  std::string name = info[0].As<Napi::String>().Utf8Value();
  Isa isa;
  if (!parse_isa(name, &isa)) args.range_error("name expected \"ref\", \"avx2\" or \"avx512\", got \"" + name + "\"");
  if (!cpu_supports(c, isa)) {
    args.range_error("name \"" + name + "\" is not supported by this CPU (best: " + isa_name(best_isa(c)) + ")");
  }
  select(isa, true);
  return info.Env().Undefined();
}

Napi::Value KilnAddon::Threads(const Napi::CallbackInfo& info) {
  Args args(info, "threads", 0);
  return Napi::Number::New(info.Env(), pool.size());
}

Napi::Value KilnAddon::SetThreads(const Napi::CallbackInfo& info) {
  Args args(info, "setThreads", 1);
  size_t n = args.size(0, "n");
  if (n < 1 || n > static_cast<size_t>(ThreadPool::kMaxThreads)) {
    args.range_error("n expected an integer in [1, " + std::to_string(ThreadPool::kMaxThreads) + "], got " + std::to_string(n));
  }
  pool.resize(static_cast<int>(n));
  return info.Env().Undefined();
}

// A job's worker thread calls this before its first kernel: the pool's threads start later, from
// this thread, and inherit the policy. Under SCHED_IDLE a thread runs only on CPU time no normal
// thread wants (its weight is 3 against a nice-0 thread's 1024), so the HTTP thread is never kept
// waiting by training, while training still gets every idle cycle. Returns false where there is no
// such policy (not Linux) or the kernel refused it.
Napi::Value KilnAddon::SchedIdle(const Napi::CallbackInfo& info) {
  Args args(info, "schedIdle", 0);
#if defined(__linux__) && defined(SCHED_IDLE)
  sched_param param{};
  param.sched_priority = 0;
  bool ok = sched_setscheduler(0, SCHED_IDLE, &param) == 0;
#else
  bool ok = false;
#endif
  return Napi::Boolean::New(info.Env(), ok);
}

// The workspace grows to the largest call of each kind and is then reused: a training loop whose
// growths stop moving after its first step allocates no scratch per call (a test checks it).
Napi::Value KilnAddon::WorkspaceStats(const Napi::CallbackInfo& info) {
  Args args(info, "workspaceStats", 0);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("bytes", static_cast<double>(workspace.stats().bytes));
  out.Set("growths", static_cast<double>(workspace.stats().growths));
  Napi::Object slots = Napi::Object::New(info.Env());  // slot number -> bytes, the slots in use
  workspace.for_each_slot([&](size_t slot, size_t bytes) { slots.Set(std::to_string(slot), static_cast<double>(bytes)); });
  out.Set("slots", slots);
  return out;
}

Napi::Value KilnAddon::BuildInfo(const Napi::CallbackInfo& info) {
  Args args(info, "buildInfo", 0);
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("builder", KILN_BUILDER);
#if defined(__clang__)
  out.Set("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  out.Set("compiler", std::string("gcc ") + __VERSION__);
#else
  out.Set("compiler", "unknown");
#endif
  out.Set("napiVersion", NAPI_VERSION);
#if defined(KILN_X86_ISA_LIBS)
  out.Set("isaLibraries", true);
#else
  out.Set("isaLibraries", false);
#endif
  return out;
}

}  // namespace kiln

// NODE_API_ADDON pastes the class name into an identifier, so it must be unqualified.
using kiln::KilnAddon;
NODE_API_ADDON(KilnAddon)
