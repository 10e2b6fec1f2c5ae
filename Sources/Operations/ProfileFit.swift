import Arguments
import Foundation
import Inference
import Planner

/// `harmonybatch profile`'s work: a planner profile measured here (MiniLM) or fitted from
/// measurements made elsewhere (a Python worker's `harmonybatch-worker profile`), with each
/// point's fit error.
public struct ProfileFit: Sendable {
  public let profile: ModelProfile
  /// Each point with its fit's relative error on the average and on the 99th percentile.
  public let errors: [(point: LatencyMeasurement, avg: Double, max: Double)]

  /// MiniLM measured on this machine (`LatencyProfiler`): `runs` timed runs per batch size and
  /// thread count up to `threads`, on a thread of its own; `progress` gets a line per point.
  public static func measuringMiniLM(
    directory: String, runs: Int, threads: Int, name: String,
    progress: @escaping @Sendable (String) -> Void
  ) async throws -> ProfileFit {
    let bert = try ModelProfile.builtIn(named: "Bert")
    return try await Task.detached {
      let encoder = try MiniLMEncoder(directory: directory)
      let profiler = LatencyProfiler(encoder: encoder, runs: runs, maxThreads: threads)
      let measurements = profiler.measure { point in
        progress(
          String(
            format: "profile: batch %d, %.0f thread(s): avg %.2f ms, p99 %.2f ms", point.batch,
            point.vcpu, point.avg * 1000, point.p99 * 1000))
      }
      let (profile, errors) = try LatencyProfiler.profile(
        from: measurements, name: name, bert: bert)
      return ProfileFit(profile: profile, errors: errors.map { ($0.0, $0.avg, $0.max) })
    }.value
  }

  /// What a measurements file holds (`Schemas/measurements.schema.json`).
  struct MeasurementsFile: Decodable {
    struct Point: Decodable {
      let batch: Int
      let vcpu: Double
      let avgMs: Double
      let p99Ms: Double

      enum CodingKeys: String, CodingKey {
        case batch, vcpu
        case avgMs = "avg_ms"
        case p99Ms = "p99_ms"
      }
    }
    let name: String?
    let source: String?
    let points: [Point]
  }

  /// The profile the measurements file at `path` gives, named `name` (default: the file's,
  /// else "measured"): the points below 1 vCPU from the one-thread times by CPU share, and no
  /// GPU part. A file that cannot be read or fitted is a usage error that says why.
  public static func fitting(file path: String, name: String?) throws(UsageError) -> ProfileFit {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw UsageError("cannot read the measurements file '\(path)'")
    }
    let file: MeasurementsFile
    do {
      file = try JSONDecoder().decode(MeasurementsFile.self, from: data)
    } catch {
      throw UsageError("the measurements file '\(path)' is not valid: \(error)")
    }
    let measurements = MeasuredProfile.addingShares(
      file.points.map {
        LatencyMeasurement(
          batch: $0.batch, vcpu: $0.vcpu, avg: $0.avgMs / 1000, p99: $0.p99Ms / 1000)
      })
    let fitted: MeasuredProfile.Fitted
    do {
      fitted = try MeasuredProfile.fit(
        measurements, name: name ?? file.name ?? "measured",
        source: (file.source ?? "measured elsewhere")
          + "; fitted by 'harmonybatch profile --measurements'; points below 1 vCPU are the "
          + "1-thread times divided by the CPU share; no GPU part: plans use CPU functions only",
        estimated: false, gpu: nil)
    } catch {
      throw UsageError("the measurements file '\(path)': \(error.message)")
    }
    do {
      _ = try fitted.profile.validated()
    } catch {
      throw UsageError("the measurements in '\(path)' give no valid profile: \(error.message)")
    }
    return ProfileFit(profile: fitted.profile, errors: fitted.errors)
  }

  /// Each point: batch, vCPU, measured or derived by share, average and 99th percentile with
  /// their fit errors.
  public var errorTable: String {
    var table = TextTable([
      ("batch", .right), ("vCPU", .right), ("source", .left), ("avg ms", .right),
      ("avg fit error", .right), ("p99 ms", .right), ("max fit error", .right),
    ])
    for (point, avgError, maxError) in errors {
      table.append([
        String(point.batch), String(format: "%.2f", point.vcpu),
        point.measured ? "measured" : "by share", String(format: "%.2f", point.avg * 1000),
        String(format: "%+.1f %%", avgError * 100), String(format: "%.2f", point.p99 * 1000),
        String(format: "%+.1f %%", maxError * 100),
      ])
    }
    return table.rendered
  }

  /// The profile as its JSON file (`Schemas/profile.schema.json`).
  public func json() throws -> Data {
    do {
      return try profile.jsonData()
    } catch {
      throw RunFailure("the profile cannot be written as JSON: \(error.summary)")
    }
  }
}
