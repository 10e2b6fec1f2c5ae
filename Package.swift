// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "HarmonyBatch",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "harmonybatch", targets: ["harmonybatch"]),
    .library(name: "Kafka", targets: ["Kafka"]),
    .library(name: "Planner", targets: ["Planner"]),
  ],
  targets: [
    .systemLibrary(
      name: "CRdKafka",
      pkgConfig: "rdkafka",
      providers: [.apt(["librdkafka-dev"])]
    ),
    // oneDNN has no pkg-config file in Debian; its module map links libdnnl and libgomp.
    .systemLibrary(
      name: "CDNNL",
      providers: [.apt(["libdnnl-dev"])]
    ),
    // LIBXSMM is a static library in Debian, without pkg-config; its module map links it.
    .systemLibrary(
      name: "CXSMM",
      providers: [.apt(["libxsmm-dev"])]
    ),
    .systemLibrary(
      name: "CMicroHTTPD",
      pkgConfig: "libmicrohttpd",
      providers: [.apt(["libmicrohttpd-dev"])]
    ),
    .systemLibrary(
      name: "CJemalloc",
      pkgConfig: "jemalloc",
      providers: [.apt(["libjemalloc-dev"])]
    ),
    .target(name: "Logging"),
    // The encoder's element-wise kernels in C, compiled for AVX-512, AVX2 and baseline x86-64,
    // the widest the CPU runs chosen when the binary loads; optimised in debug builds too.
    .target(name: "EncoderKernels", cSettings: [.unsafeFlags(["-O2"])]),
    // Kafka's record and message types as plain values, with no librdkafka: what the pure core
    // decides on (Kafka re-exports them).
    .target(
      name: "KafkaMessages",
      swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]),
    .target(
      name: "Kafka", dependencies: ["CRdKafka", "Logging", "KafkaMessages"],
      swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]),
    .target(
      name: "Inference",
      dependencies: ["CDNNL", "CXSMM", "EncoderKernels", "Planner", "PipelineCore"],
      // The encoder's loops are the hot path of every CPU worker; optimise them in debug
      // builds too, so tests and the debug binary serve requests at a realistic speed.
      swiftSettings: [.unsafeFlags(["-O"])]),
    .target(name: "Planner", resources: [.copy("Resources/profiles"), .copy("Resources/pricing")]),
    // The pipeline's logic and messages, with no Kafka client, BLAS or networking: what the
    // simulator and the services share.
    // Cross-module optimisation in release builds: the stages' generic core (`GroupBuffers`,
    // `ReadyBatch`, the Kafka layer's types) specialised where the pipeline uses it instead of
    // looked up at run time; bench pipeline's CPU samples: batcher -30 %, router -24 %.
    .target(
      name: "PipelineCore", dependencies: ["Planner", "Logging", "KafkaMessages"],
      swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]),
    .target(
      name: "Pipeline",
      dependencies: ["Kafka", "Planner", "PipelineCore", "CMicroHTTPD", "Logging"]),
    .target(name: "Simulator", dependencies: ["Planner", "PipelineCore"]),
    // The command line's options, parsing and help, and the usage error (exit code 2).
    .target(name: "Arguments"),
    // What the commands run: the demo, the fault suite, cluster and topic set-up, the produce
    // and consume loops, the watch read model, the closed-loop runs, the reports; and the
    // option groups several commands share (Options/).
    .target(
      name: "Operations",
      dependencies: [
        "Arguments", "Kafka", "Logging", "Planner", "PipelineCore", "Pipeline", "Inference",
        "Simulator",
      ]),
    // The benchmarks behind 'harmonybatch bench' and their statistics.
    .target(
      name: "Bench",
      dependencies: [
        "CJemalloc", "Arguments", "Kafka", "Planner", "PipelineCore", "Pipeline", "Inference",
        "Simulator", "Operations",
      ]),
    .target(
      name: "HarmonyBatchCLI",
      dependencies: [
        "Arguments", "CJemalloc", "Kafka", "Logging", "Planner", "PipelineCore", "Pipeline",
        "Inference",
        "Simulator", "Operations", "Bench",
      ]),
    .executableTarget(name: "harmonybatch", dependencies: ["HarmonyBatchCLI"]),
    // How tests wait and where they run: waits that suspend instead of blocking a thread, and the
    // traits that put blocking tests, long computations and service-starting suites where they
    // keep the cooperative pool free (README, "Quick start"). Foundation and Testing only.
    .target(name: "WaitSupport", path: "Tests/WaitSupport"),
    .target(
      name: "TestSupport",
      dependencies: ["Kafka", "PipelineCore", "Pipeline", "Planner", "WaitSupport"],
      path: "Tests/TestSupport"),
    .testTarget(name: "WaitSupportTests", dependencies: ["WaitSupport"]),
    .testTarget(name: "LoggingTests", dependencies: ["Logging"]),
    .testTarget(name: "KafkaTests", dependencies: ["Kafka", "WaitSupport"]),
    .testTarget(name: "PlannerTests", dependencies: ["Planner", "WaitSupport"]),
    // The pure core's tests: no Kafka, no inference, no networking in their build.
    .testTarget(
      name: "PipelineCoreTests",
      dependencies: ["PipelineCore", "Planner", "KafkaMessages", "WaitSupport"]),
    .testTarget(
      name: "SimulatorTests", dependencies: ["Simulator", "Planner", "PipelineCore", "WaitSupport"]
    ),
    .testTarget(
      name: "InferenceTests",
      dependencies: ["Inference", "Planner", "PipelineCore", "WaitSupport"],
      exclude: ["Reference"]),
    .testTarget(
      name: "PipelineTests",
      dependencies: [
        "PipelineCore", "Pipeline", "Planner", "Kafka", "Inference", "TestSupport",
        "harmonybatch",
      ]),
    .testTarget(
      name: "HarmonyBatchCLITests",
      dependencies: [
        "HarmonyBatchCLI", "Arguments", "Operations", "Bench", "Kafka", "Planner",
        "PipelineCore", "Simulator", "TestSupport",
        "harmonybatch",
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
