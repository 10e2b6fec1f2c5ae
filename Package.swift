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
        .target(name: "Kafka", dependencies: ["CRdKafka"]),
        .target(name: "Planner", resources: [.copy("Resources/profiles"), .copy("Resources/pricing")]),
        .target(name: "Pipeline", dependencies: ["Kafka", "Planner"]),
        .target(name: "HarmonyBatchCLI", dependencies: ["Kafka", "Planner", "Pipeline"]),
        .executableTarget(name: "harmonybatch", dependencies: ["HarmonyBatchCLI"]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka"]),
        .testTarget(name: "PlannerTests", dependencies: ["Planner"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Planner", "Kafka"]),
        .testTarget(
            name: "HarmonyBatchCLITests",
            dependencies: ["HarmonyBatchCLI", "Kafka", "harmonybatch"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
