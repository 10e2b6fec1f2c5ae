import Arguments
import Planner

/// The options that choose a model's latency profile and a pricing — `--model NAME` (built in)
/// or `--profile FILE`, and `--pricing P` — as plan, simulate, controller, batcher and worker
/// read them (each command says in its own help what it uses them for).
public enum ModelOptions {
  /// The profile `--model` or `--profile` names; nil when neither is given.
  public static func profile(_ options: ParsedOptions) throws -> ModelProfile? {
    switch (options.string("model"), options.string("profile")) {
    case (let name?, nil): try ModelProfile.builtIn(named: name)
    case (nil, let path?): try ModelProfile.load(path: path)
    case (nil, nil): nil
    case (_?, _?): throw UsageError("give --model or --profile, not both")
    }
  }

  /// The pricing `--pricing` names (a preset or a file), else `fallback`, else the default
  /// preset.
  public static func pricing(_ options: ParsedOptions, fallback: String? = nil) throws
    -> PricingPreset
  {
    try PricingPreset.named(
      orPath: options.string("pricing") ?? fallback ?? PricingPreset.defaultName)
  }

  /// The planner that `--model/--profile` (one of them needed), `--pricing` and
  /// `--gpu-max-margin` describe.
  public static func planner(_ options: ParsedOptions) throws -> Planner {
    guard let profile = try profile(options) else {
      throw UsageError("'\(options.command)' needs --model NAME or --profile FILE")
    }
    let pricing = try pricing(options)
    let margin = try options.double(
      "gpu-max-margin", default: LatencyModel.defaultGPUMaxMargin, in: 1...10)
    return Planner(profile: profile, pricing: pricing, gpuMaxMargin: margin)
  }
}
