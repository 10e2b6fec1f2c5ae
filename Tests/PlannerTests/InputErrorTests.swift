import Foundation
import Testing

@testable import Planner

/// Bad input is one clear line naming the app or field, never a crash or a silent drop.
@Suite struct InputErrorTests {
  static func error(_ json: String) -> String? {
    do {
      _ = try AppsFile.parse(Data(json.utf8))
      return nil
    } catch {
      return error.message
    }
  }

  @Test func aValidFileParses() throws {
    let apps = try AppsFile.parse(
      Data(#"{"apps":[{"id":"a","slo_ms":500,"rate":5},{"id":"b","slo_ms":800,"rate":0}]}"#.utf8))
    #expect(apps == [App(id: "a", slo: 0.5, rate: 5), App(id: "b", slo: 0.8, rate: 0)])
    #expect(try AppsFile.parse(AppsFile.encode(apps)) == apps)
  }

  @Test(arguments: [
    (#"{"apps": [ {"id": "a", "#, "not valid JSON"),
    (#"[]"#, "should be an object"),
    (#"{"applications": []}"#, "missing field 'apps'"),
    (#"{"apps": [{"slo_ms": 500, "rate": 1}]}"#, "apps[0] has no 'id'"),
    (#"{"apps": [{"id": "a", "rate": 1}]}"#, "app 'a' has no 'slo_ms'"),
    (#"{"apps": [{"id": "a", "slo_ms": 0, "rate": 1}]}"#, "app 'a': slo_ms must be > 0 (got 0)"),
    (#"{"apps": [{"id": "a", "slo_ms": -5, "rate": 1}]}"#, "app 'a': slo_ms must be > 0 (got -5)"),
    (#"{"apps": [{"id": "a", "slo_ms": 500, "rate": -1}]}"#, "app 'a': rate must be ≥ 0 (got -1)"),
    (#"{"apps": [{"id": "a", "slo_ms": 500}]}"#, "app 'a' has no 'rate'"),
    (#"{"apps": [{"id": "a", "slo_ms": "fast", "rate": 1}]}"#, "apps[0].slo_ms should be a number"),
    (
      #"{"apps": [{"id": "a", "slo_ms": 500, "rate": 1}, {"id": "a", "slo_ms": 600, "rate": 1}]}"#,
      "duplicate app id 'a' (apps[0] and apps[1])"
    ),
  ])
  func badAppsFiles(json: String, expected: String) {
    let message = Self.error(json)
    #expect(message?.contains(expected) == true, "\(message ?? "no error")")
    #expect(message?.contains("\n") == false)
  }

  @Test func planRejectsInvalidAppsFromCode() throws {
    let planner = try Planner(model: "Bert")
    #expect(throws: PlannerInputError("duplicate app id 'x'")) {
      try planner.plan([App(id: "x", slo: 1, rate: 1), App(id: "x", slo: 2, rate: 1)])
    }
    #expect(throws: PlannerInputError.self) { try planner.plan([App(id: "x", slo: 0, rate: 1)]) }
    #expect(throws: PlannerInputError.self) { try planner.plan([App(id: "x", slo: 1, rate: -2)]) }
  }

  @Test func anAppNoFunctionCanServeIsReportedNotDropped() throws {
    let planner = try Planner(model: "VGG19")
    let apps = [App(id: "tight", slo: 0.002, rate: 3), App(id: "fine", slo: 0.6, rate: 3)]
    for algorithm in Planner.Algorithm.allCases {
      let plan = try planner.plan(apps, algorithm: algorithm)
      #expect(plan.groups.flatMap(\.apps) == ["fine"])
      #expect(plan.infeasible.map(\.app) == ["tight"])
      #expect(plan.infeasible.first?.reason.contains("SLO 2.0 ms is below") == true)
    }
  }

  @Test func unknownModelAndPricingNameTheChoices() {
    #expect(throws: PlannerInputError.self) { try ModelProfile.builtIn(named: "ResNet") }
    do {
      _ = try ModelProfile.builtIn(named: "ResNet")
    } catch {
      #expect(error.message.contains("VGG19, Bert, GPT-2, VideoMAE"))
    }
    do {
      _ = try PricingPreset.named(orPath: "azure")
    } catch {
      #expect(error.message.contains("alibaba-cny, paper-usd, aws-lambda"))
    }
  }

  @Test func everyBuiltInProfileAndPresetLoads() throws {
    for name in ModelProfile.builtInNames {
      #expect(try ModelProfile.builtIn(named: name).name == name)
    }
    #expect(try ModelProfile.builtIn(named: "vgg19").name == "VGG19")
    for name in PricingPreset.builtInNames {
      #expect(try PricingPreset.builtIn(named: name).name == name)
    }
  }

  @Test func aCPUOnlyPlatformPlansOnCPU() throws {
    let planner = try Planner(model: "Bert", pricing: "aws-lambda")
    var random = SeededRandom(seed: 11)
    let plan = try planner.plan(WorkloadGenerator().apps(count: 10, using: &random))
    #expect(!plan.groups.isEmpty)
    #expect(plan.groups.allSatisfy { $0.function.kind == .cpu && $0.function.vcpu <= 5.788 })
    #expect(plan.currency == "USD")
  }
}

/// Plans whose numbers no planner makes are refused when read (`Plan.decode`).
@Suite struct PlanValidationTests {
  static func plan() throws -> Plan {
    var plan = try Planner(model: "VGG19").plan([
      App(id: "a1", slo: 0.5, rate: 5), App(id: "a2", slo: 0.8, rate: 10),
      App(id: "a3", slo: 1.0, rate: 20),
    ])
    plan.version = 4
    return plan
  }

  static func refused(_ change: (inout Plan) -> Void) throws -> String? {
    var plan = try plan()
    change(&plan)
    let json = try plan.jsonData()
    do {
      _ = try Plan.decode(json, source: "test plan")
      return nil
    } catch {
      return error.message
    }
  }

  @Test func aPlannersPlanIsValid() throws {
    #expect(try Self.refused { _ in } == nil)
  }

  @Test func badNumbersAreRefusedNamingTheField() throws {
    let cases: [(String, (inout Plan) -> Void)] = [
      ("batch_size -3", { $0.groups[0].batchSize = -3 }),
      ("batch_size 0", { $0.groups[0].batchSize = 0 }),
      ("timeout of a1 -5.0", { $0.groups[0].timeoutsMs["a1"] = -5 }),
      ("vcpu -1.0", { $0.groups[0].function = .cpu(vcpu: -1) }),
      ("gpu_mem_gb 0", { $0.groups[$0.groups.count - 1].function = .gpu(memoryGB: 0, vcpu: 1) }),
      ("no groups", { $0.groups = [] }),
      ("version 0", { $0.version = 0 }),
      ("latency_max_ms", { $0.groups[0].latencyMaxMs = 1e308 }),
      ("has no apps", { $0.groups[0].apps = [] }),
      ("appears twice", { $0.groups.append($0.groups[0]) }),
    ]
    for (expected, change) in cases {
      let message = try Self.refused(change)
      #expect(message?.contains(expected) == true, "\(expected): \(message ?? "accepted")")
    }
  }
}

extension InputErrorTests {
  /// `batcher --plan FILE`: a plan file reads back as the plan written, and a file that is not
  /// there or not a plan is one line naming it.
  @Test func aPlanFileLoadsOrSaysWhatIsWrongWithIt() throws {
    let plan = try Planner(model: "VGG19").plan([App(id: "a", slo: 0.5, rate: 5)])
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("hb-plan-\(UUID().uuidString).json").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try plan.jsonData().write(to: URL(fileURLWithPath: path))
    let loaded = try Plan.load(path: path)
    #expect(loaded.version == plan.version && loaded.groups.count == plan.groups.count)
    #expect {
      try Plan.load(path: "/nonexistent/plan.json")
    } throws: { error in
      (error as? PlannerInputError)?.message.hasPrefix(
        "cannot read plan file '/nonexistent/plan.json'") == true
    }
    try Data("{}".utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: PlannerInputError.self) { try Plan.load(path: path) }
  }
}
