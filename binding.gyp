{
  "targets": [
    {
      "target_name": "kiln",
      "sources": [
        "native/dispatch/cpu.cc",
        "native/dispatch/table.cc",
        "native/runtime/thread_pool.cc",
        "native/runtime/gemm.cc",
        "native/runtime/im2col.cc",
        "native/runtime/conv.cc",
        "native/runtime/conv_rows.cc",
        "native/runtime/conv_taps.cc",
        "native/runtime/winograd.cc",
        "native/runtime/batchnorm.cc",
        "native/runtime/sequence.cc",
        "native/runtime/attention.cc",
        "native/binding/addon.cc",
        "native/binding/args.cc",
        "native/binding/params.cc",
        "native/binding/elementwise.cc",
        "native/binding/reduce.cc",
        "native/binding/gemm.cc",
        "native/binding/conv.cc",
        "native/binding/pool.cc",
        "native/binding/batchnorm.cc",
        "native/binding/sequence.cc",
        "native/binding/attention.cc",
        "native/binding/optim.cc",
        "native/kernels/ref/elementwise.cc",
        "native/kernels/ref/reduce.cc",
        "native/kernels/ref/gemm.cc",
        "native/kernels/ref/conv.cc",
        "native/kernels/ref/pool.cc",
        "native/kernels/ref/shortcut.cc",
        "native/kernels/ref/batchnorm.cc",
        "native/kernels/ref/winograd.cc",
        "native/kernels/ref/layernorm.cc",
        "native/kernels/ref/softmax.cc",
        "native/kernels/ref/activation.cc",
        "native/kernels/ref/embedding.cc",
        "native/kernels/ref/attention.cc",
        "native/kernels/ref/optim.cc"
      ],
      "defines": ["NAPI_VERSION=8", "KILN_BUILDER=\"node-gyp\""],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": ["-std=c++17"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "conditions": [
        ["target_arch=='x64'", {
          "defines": ["KILN_X86_ISA_LIBS"],
          "dependencies": ["kiln_avx2", "kiln_avx512"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "kiln_avx2",
          "type": "static_library",
          "sources": ["native/kernels/avx2/elementwise.cc", "native/kernels/avx2/reduce.cc", "native/kernels/avx2/gemm.cc", "native/kernels/avx2/gemm_pack.cc", "native/kernels/avx2/peak.cc", "native/kernels/avx2/batchnorm.cc", "native/kernels/avx2/winograd.cc", "native/kernels/avx2/layernorm.cc", "native/kernels/avx2/conv_rows.cc", "native/kernels/avx2/softmax.cc", "native/kernels/avx2/activation.cc", "native/kernels/avx2/attention.cc", "native/kernels/avx2/optim.cc", "native/kernels/avx2/pool.cc"],
          "cflags_cc!": ["-std=gnu++17"],
          "cflags_cc": ["-std=c++17", "-march=x86-64-v3"]
        },
        {
          "target_name": "kiln_avx512",
          "type": "static_library",
          "sources": ["native/kernels/avx512/elementwise.cc", "native/kernels/avx512/reduce.cc", "native/kernels/avx512/gemm.cc", "native/kernels/avx512/gemm_pack.cc", "native/kernels/avx512/peak.cc", "native/kernels/avx512/batchnorm.cc", "native/kernels/avx512/winograd.cc", "native/kernels/avx512/layernorm.cc", "native/kernels/avx512/conv_rows.cc", "native/kernels/avx512/pool.cc", "native/kernels/avx512/softmax.cc", "native/kernels/avx512/activation.cc", "native/kernels/avx512/attention.cc", "native/kernels/avx512/optim.cc"],
          "cflags_cc!": ["-std=gnu++17"],
          "cflags_cc": ["-std=c++17", "-march=x86-64-v4", "-Wno-uninitialized"]
        }
      ]
    }]
  ]
}
