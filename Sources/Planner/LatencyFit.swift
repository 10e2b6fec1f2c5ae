import Foundation

/// Fits the CPU latency model `L(c) = α·exp(−c/β) + γ` (Eq. 1) to measured points: for each β
/// on a fine logarithmic grid the best α ≥ 0 and γ are a linear least-squares solve, and the β
/// with the smallest squared error wins. Deterministic, no starting guess, no divergence.
public enum LatencyFit {
  public struct Point: Sendable, Equatable {
    public var vcpu: Double
    public var seconds: Double

    public init(vcpu: Double, seconds: Double) {
      self.vcpu = vcpu
      self.seconds = seconds
    }
  }

  /// The fitted triple and each point's relative error.
  public static func exponential(_ points: [Point]) -> (
    ModelProfile.ExponentialLatency, relativeErrors: [Double]
  ) {
    precondition(points.count >= 2, "need at least two points")
    var best: (sse: Double, triple: ModelProfile.ExponentialLatency)?
    for step in 0...400 {
      let beta = 0.02 * pow(10, Double(step) / 100)  // 0.02 ... 200
      let basis = points.map { exp(-$0.vcpu / beta) }
      let n = Double(points.count)
      let sx = basis.reduce(0, +)
      let sy = points.reduce(0) { $0 + $1.seconds }
      let sxx = basis.reduce(0) { $0 + $1 * $1 }
      let sxy = zip(basis, points).reduce(0) { $0 + $1.0 * $1.1.seconds }
      let det = n * sxx - sx * sx
      var alpha = abs(det) > 1e-15 ? (n * sxy - sx * sy) / det : 0
      if alpha < 0 { alpha = 0 }
      let gamma = (sy - alpha * sx) / n
      let sse = zip(basis, points).reduce(0) {
        let residual = alpha * $1.0 + gamma - $1.1.seconds
        return $0 + residual * residual
      }
      if sse < (best?.sse ?? .infinity) {
        best = (sse, ModelProfile.ExponentialLatency(alpha: alpha, beta: beta, gamma: gamma))
      }
    }
    let triple = best!.triple
    let errors = points.map { (triple(vcpu: $0.vcpu) - $0.seconds) / $0.seconds }
    return (triple, errors)
  }
}
