{
  # mlbridge native addon: XGBoost 3.2.0 (libxgboost.so from the PyPI wheel
  # xgboost-cpu, its C API header from the sdist; fetched, checked and cached by
  # scripts/setup.sh outside the clone, see scripts/xgboost-dir.js) and CRFsuite
  # 0.12.2 (compiled from the C sources bundled in the `crfsuite` npm package,
  # referenced in place; nothing is copied into this repository).
  #
  #   npm run build             -> build/Release/mlbridge.node
  #   npm run build:sanitize    -> build/Debug/mlbridge.node with ASan + UBSan
  #                                (MLBRIDGE_SANITIZE=1, every target; see
  #                                crfsuite_lookup3 for its one exception)
  "variables": {
    "xgboost_dir%": "<!(node scripts/xgboost-dir.js)",
    "mlbridge_sanitize%": "<!(node -p \"process.env.MLBRIDGE_SANITIZE === '1' ? 1 : 0\")"
  },
  "target_defaults": {
    "cflags": [ "-fvisibility=hidden" ],
    "conditions": [
      [ "mlbridge_sanitize==1", {
        "cflags": [ "-fsanitize=address,undefined", "-fno-omit-frame-pointer" ],
        "ldflags": [ "-fsanitize=address,undefined", "-fno-omit-frame-pointer" ]
      }]
    ]
  },
  "targets": [
    {
      # CRFsuite + liblbfgs as a static library. No HAVE_CONFIG_H, no USE_SSE
      # (the plain ANSI vector code of liblbfgs is used).
      "target_name": "crfsuite_c",
      "type": "static_library",
      "sources": [
        "../node_modules/crfsuite/crfsuite/lib/crf/src/crf1d_context.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/crf1d_feature.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/crf1d_model.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/crf1d_tag.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/crfsuite.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/crfsuite_train.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/dataset.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/dictionary.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/holdout.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/logging.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/params.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/quark.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/rumavl.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/train_arow.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/train_averaged_perceptron.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/train_l2sgd.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/train_lbfgs.c",
        "../node_modules/crfsuite/crfsuite/lib/crf/src/train_passive_aggressive.c",
        "../node_modules/crfsuite/crfsuite/lib/cqdb/src/cqdb.c",
        "../node_modules/crfsuite/liblbfgs/lib/lbfgs.c"
      ],
      "dependencies": [ "crfsuite_lookup3", "crfsuite_encode", "crfsuite_threads" ],
      "include_dirs": [
        "../node_modules/crfsuite/crfsuite/lib/crf/src",
        "../node_modules/crfsuite/liblbfgs/include",
        "../node_modules/crfsuite/crfsuite/include",
        "../node_modules/crfsuite/crfsuite/lib/cqdb/include"
      ],
      # Third-party code: its warnings are not ours to fix.
      "cflags": [ "-w" ],
      "cflags_c": [ "-std=gnu99" ],
      "direct_dependent_settings": {
        "include_dirs": [
          "../node_modules/crfsuite/crfsuite/include"
        ]
      }
    },
    {
      # CRFsuite's hash function (part of crfsuite_c, built apart for one flag):
      # lookup3.c's hashlittle reads the last word of a key whole and masks off
      # the bytes past its end (by design, "VALGRIND will complain"; its
      # -DVALGRIND branch does not compile in this copy). The read never leaves
      # the aligned word, but AddressSanitizer reports it, so this one file is
      # built without ASan instrumentation in sanitizer builds (UBSan stays).
      "target_name": "crfsuite_lookup3",
      "type": "static_library",
      "sources": [
        "../node_modules/crfsuite/crfsuite/lib/cqdb/src/lookup3.c"
      ],
      "cflags": [ "-w" ],
      "conditions": [
        [ "mlbridge_sanitize==1", {
          "cflags": [ "-fno-sanitize=address" ]
        }]
      ]
    },
    {
      # CRFsuite's crf1d encoder as it is, its constructor renamed: the one
      # that CRFsuite's trainer calls is crf_threads.c's, which wraps it.
      "target_name": "crfsuite_encode",
      "type": "static_library",
      "sources": [ "../node_modules/crfsuite/crfsuite/lib/crf/src/crf1d_encode.c" ],
      "defines": [ "crf1d_create_encoder=crf1d_create_encoder_serial" ],
      "include_dirs": [
        "../node_modules/crfsuite/crfsuite/lib/crf/src",
        "../node_modules/crfsuite/crfsuite/include"
      ],
      "cflags": [ "-w" ],
      "cflags_c": [ "-std=gnu99" ]
    },
    {
      # Ours: CRFsuite's L-BFGS objective on several threads, through the
      # encoders' function table. Built apart from crfsuite_c so that our code
      # gets -Werror.
      "target_name": "crfsuite_threads",
      "type": "static_library",
      "sources": [ "src/crf_threads.c" ],
      "include_dirs": [
        "../node_modules/crfsuite/crfsuite/lib/crf/src",
        "../node_modules/crfsuite/crfsuite/include"
      ],
      "cflags!": [ "-Wno-unused-parameter" ],
      "cflags_c": [ "-std=gnu99", "-Wall", "-Wextra", "-Werror" ],
      "link_settings": { "libraries": [ "-lpthread" ] }
    },
    {
      "target_name": "mlbridge",
      "dependencies": [ "crfsuite_c" ],
      "sources": [
        "src/addon.cc",
        "src/xgboost.cc",
        "src/crfsuite.cc",
        "src/crf_packed.cc",
        "src/crf_model_check.cc",
        "src/crf_trainer.cc",
        "src/crf_tagger.cc",
        "src/forest.cc",
        "src/filelock.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(xgboost_dir)/include"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      # Our own code builds warning-free: -Werror here only (crfsuite's C above
      # stays -w). node's common.gypi adds -Wno-unused-parameter: removed too.
      "cflags!": [ "-fno-exceptions", "-Wno-unused-parameter" ],
      "cflags_cc!": [ "-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-Wno-unused-parameter" ],
      "cflags_cc": [ "-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Werror" ],
      # libxgboost.so and its libgomp are copied beside mlbridge.node in the
      # wheel's own layout (xgboost/lib/ and xgboost_cpu.libs/: libxgboost's
      # RPATH is $ORIGIN/../../xgboost_cpu.libs), and mlbridge.node finds
      # libxgboost through its RUNPATH $ORIGIN/xgboost/lib: the build folder
      # (build/Release) is self-contained, it can be copied anywhere as is.
      "libraries": [ "-L<(xgboost_dir)/lib/xgboost/lib", "-lxgboost" ],
      "ldflags": [ "-Wl,-rpath,'$$ORIGIN/xgboost/lib'", "-Wl,--enable-new-dtags" ],
      "copies": [
        {
          "destination": "<(PRODUCT_DIR)/xgboost/lib",
          "files": [ "<(xgboost_dir)/lib/xgboost/lib/libxgboost.so" ]
        },
        {
          "destination": "<(PRODUCT_DIR)/xgboost_cpu.libs",
          "files": [ "<(xgboost_dir)/lib/xgboost_cpu.libs/libgomp-e985bcbb.so.1.0.0" ]
        }
      ]
    }
  ]
}
