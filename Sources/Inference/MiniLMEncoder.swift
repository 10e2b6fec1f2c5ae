import COpenBLAS
import Foundation
import Synchronization

/// The all-MiniLM-L6-v2 sentence encoder: BERT embeddings, six layers of masked multi-head
/// self-attention and GELU feed-forward with LayerNorm, mean pooling over real tokens, L2
/// normalisation. Batched: every sequence is padded to the longest in the batch, and every
/// projection is one OpenBLAS matrix product over the whole batch.
public final class MiniLMEncoder: Sendable {
  public static let hidden = 384
  static let heads = 12
  static let headSize = 32
  static let intermediate = 1536
  static let layers = 6
  static let epsilon: Float = 1e-12

  struct Linear: Sendable {
    /// [in, out], row-major: PyTorch's [out, in] transposed once at load, so every product is
    /// `x · W` with no transposed operand (OpenBLAS packs a plain operand faster: with the
    /// transposed layout its packing copy took a third of a batch-1 forward pass).
    let weight: [Float]
    let bias: [Float]
    let inputs: Int
    let outputs: Int

    /// From PyTorch's layout, `y = x Wᵀ + b` with `weight` [outputs, inputs].
    init(pytorch weight: [Float], bias: [Float], inputs: Int, outputs: Int) {
      var transposed = [Float](repeating: 0, count: weight.count)
      for row in 0..<outputs {
        for column in 0..<inputs {
          transposed[column * outputs + row] = weight[row * inputs + column]
        }
      }
      self.weight = transposed
      self.bias = bias
      self.inputs = inputs
      self.outputs = outputs
    }
  }

  struct Norm: Sendable {
    let weight: [Float]
    let bias: [Float]
  }

  struct Layer: Sendable {
    /// Query, key and value projections fused into one [3·384, 384] weight: the input is read
    /// (and packed by OpenBLAS) once instead of three times.
    let queryKeyValue: Linear
    let attentionOutput: Linear
    let attentionNorm: Norm
    let intermediate: Linear
    let output: Linear
    let outputNorm: Norm
  }

  let wordEmbeddings: [Float]
  let positionEmbeddings: [Float]
  let tokenTypeEmbeddings: [Float]
  let embeddingNorm: Norm
  let layers: [Layer]
  public let tokenizer: WordPieceTokenizer
  let maxPositions: Int
  /// Scratch buffers, reused across calls (fresh megabyte-sized arrays per call cost page faults).
  private let workspaces = Mutex<[Workspace]>([])

  struct Workspace: Sendable {
    var x: [Float] = []
    var qkv: [Float] = []
    var context: [Float] = []
    var projected: [Float] = []
    var expanded: [Float] = []
    var scores: [Float] = []
    var mask: [Float] = []

    mutating func fit(rows: Int, length: Int) {
      func size(_ array: inout [Float], _ count: Int) {
        if array.count != count { array = [Float](repeating: 0, count: count) }
      }
      let h = MiniLMEncoder.hidden
      size(&qkv, rows * 3 * h)
      for keyPath in [\Workspace.x, \.context, \.projected]
        as [WritableKeyPath<Workspace, [Float]>]
      {
        size(&self[keyPath: keyPath], rows * h)
      }
      size(&expanded, rows * MiniLMEncoder.intermediate)
      size(&scores, length * length)
      size(&mask, rows)
      for i in 0..<rows { mask[i] = 0 }
    }
  }

  public init(tensors: SafeTensors, tokenizer: WordPieceTokenizer) throws(InferenceError) {
    let h = Self.hidden
    let vocabulary = tensors.entries["embeddings.word_embeddings.weight"]?.shape.first ?? 0
    maxPositions = tensors.entries["embeddings.position_embeddings.weight"]?.shape.first ?? 0
    guard vocabulary > 0, maxPositions >= tokenizer.maxLength else {
      throw InferenceError("the model's embeddings do not fit a \(tokenizer.maxLength)-token input")
    }
    /// The weight and bias of one or more PyTorch linear layers of the same input, stacked by
    /// output (several give one fused product).
    func linear(_ names: [String], _ inputs: Int, _ outputs: Int) throws(InferenceError) -> Linear {
      var weight: [Float] = []
      var bias: [Float] = []
      for name in names {
        weight += try tensors.floats("\(name).weight", shape: [outputs, inputs])
        bias += try tensors.floats("\(name).bias", shape: [outputs])
      }
      return Linear(
        pytorch: weight, bias: bias, inputs: inputs, outputs: outputs * names.count)
    }
    func norm(_ name: String) throws(InferenceError) -> Norm {
      Norm(
        weight: try tensors.floats("\(name).weight", shape: [h]),
        bias: try tensors.floats("\(name).bias", shape: [h]))
    }
    wordEmbeddings = try tensors.floats(
      "embeddings.word_embeddings.weight", shape: [vocabulary, h])
    positionEmbeddings = try tensors.floats(
      "embeddings.position_embeddings.weight", shape: [maxPositions, h])
    tokenTypeEmbeddings = try tensors.floats(
      "embeddings.token_type_embeddings.weight", shape: [2, h])
    embeddingNorm = try norm("embeddings.LayerNorm")
    var layers: [Layer] = []
    for index in 0..<Self.layers {
      let prefix = "encoder.layer.\(index)"
      layers.append(
        Layer(
          queryKeyValue: try linear(
            ["query", "key", "value"].map { "\(prefix).attention.self.\($0)" }, h, h),
          attentionOutput: try linear(["\(prefix).attention.output.dense"], h, h),
          attentionNorm: try norm("\(prefix).attention.output.LayerNorm"),
          intermediate: try linear(["\(prefix).intermediate.dense"], h, Self.intermediate),
          output: try linear(["\(prefix).output.dense"], Self.intermediate, h),
          outputNorm: try norm("\(prefix).output.LayerNorm")))
    }
    self.layers = layers
    self.tokenizer = tokenizer
  }

  /// Loads the model from a directory holding `model.safetensors` and `vocab.txt`.
  public convenience init(directory: String, maxLength: Int = 256) throws(InferenceError) {
    let tensors = try SafeTensors(path: directory + "/model.safetensors")
    let tokenizer = try WordPieceTokenizer(
      vocabularyPath: directory + "/vocab.txt", maxLength: maxLength)
    try self.init(tensors: tensors, tokenizer: tokenizer)
  }

  /// OpenBLAS threads for the calls that follow (process-wide).
  public static func setThreads(_ count: Int) {
    openblas_set_num_threads(Int32(max(1, count)))
  }

  /// Unit-length sentence embeddings, one per text.
  public func embed(_ texts: [String]) -> [[Float]] {
    embed(tokens: texts.map(tokenizer.encode))
  }

  /// Embeddings of already tokenised inputs (each with `[CLS]` and `[SEP]`).
  public func embed(tokens batch: [[Int32]]) -> [[Float]] {
    guard !batch.isEmpty else { return [] }
    let h = Self.hidden
    let length = batch.map(\.count).max()!
    let rows = batch.count * length
    var space = workspaces.withLock { $0.popLast() } ?? Workspace()
    defer { workspaces.withLock { $0.append(space) } }
    space.fit(rows: rows, length: length)
    var x = space.x
    var mask = space.mask
    var qkv = space.qkv
    var context = space.context
    var projected = space.projected
    var expanded = space.expanded
    var scores = space.scores
    // Hand the buffers back (uniquely referenced again) when done.
    defer {
      space.x = x
      space.mask = mask
      space.qkv = qkv
      space.context = context
      space.projected = projected
      space.expanded = expanded
      space.scores = scores
    }
    space = Workspace()
    // Embeddings: word + position + token type 0, then LayerNorm.
    x.withUnsafeMutableBufferPointer { x in
      for (sequence, ids) in batch.enumerated() {
        for position in 0..<length {
          let row = sequence * length + position
          let id = position < ids.count ? Int(ids[position]) : Int(tokenizer.padding)
          if position < ids.count { mask[row] = 1 }
          let out = x.baseAddress! + row * h
          wordEmbeddings.withUnsafeBufferPointer { words in
            positionEmbeddings.withUnsafeBufferPointer { positions in
              tokenTypeEmbeddings.withUnsafeBufferPointer { types in
                for i in 0..<h {
                  out[i] = words[id * h + i] + positions[position * h + i] + types[i]
                }
              }
            }
          }
        }
      }
    }
    layerNorm(&x, rows: rows, embeddingNorm)
    let scale = 1 / Float(Self.headSize).squareRoot()
    for layer in layers {
      apply(layer.queryKeyValue, to: x, rows: rows, into: &qkv)
      let stride = 3 * h
      for sequence in 0..<batch.count {
        for head in 0..<Self.heads {
          let query = sequence * length * stride + head * Self.headSize
          let out = sequence * length * h + head * Self.headSize
          if length <= Self.smallSequence {
            // Short inputs: a few thousand multiply-adds per head, less than a BLAS call costs.
            attendDirectly(
              qkv: qkv, query: query, context: &context, out: out, scores: &scores,
              length: length, scale: scale, mask: mask, maskOffset: sequence * length)
            continue
          }
          qkv.withUnsafeBufferPointer { qkv in
            scores.withUnsafeMutableBufferPointer { s in
              cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(length), Int32(length),
                Int32(Self.headSize), scale, qkv.baseAddress! + query, Int32(stride),
                qkv.baseAddress! + query + h, Int32(stride), 0, s.baseAddress!, Int32(length))
            }
          }
          softmaxRows(&scores, length: length, mask: mask, maskOffset: sequence * length)
          scores.withUnsafeBufferPointer { s in
            qkv.withUnsafeBufferPointer { qkv in
              context.withUnsafeMutableBufferPointer { c in
                cblas_sgemm(
                  CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(length), Int32(Self.headSize),
                  Int32(length), 1, s.baseAddress!, Int32(length),
                  qkv.baseAddress! + query + 2 * h, Int32(stride), 0, c.baseAddress! + out,
                  Int32(h))
              }
            }
          }
        }
      }
      apply(layer.attentionOutput, to: context, rows: rows, into: &projected)
      addInPlace(&x, projected)
      layerNorm(&x, rows: rows, layer.attentionNorm)
      apply(layer.intermediate, to: x, rows: rows, into: &expanded)
      gelu(&expanded)
      apply(layer.output, to: expanded, rows: rows, into: &projected)
      addInPlace(&x, projected)
      layerNorm(&x, rows: rows, layer.outputNorm)
    }
    // Mean over real tokens, then unit length.
    return (0..<batch.count).map { sequence in
      var pooled = [Float](repeating: 0, count: h)
      var count: Float = 0
      for position in 0..<length where mask[sequence * length + position] > 0 {
        let row = (sequence * length + position) * h
        for i in 0..<h { pooled[i] += x[row + i] }
        count += 1
      }
      var norm: Float = 0
      for i in 0..<h {
        pooled[i] /= max(count, 1)
        norm += pooled[i] * pooled[i]
      }
      let inverse = 1 / max(norm.squareRoot(), 1e-12)
      return pooled.map { $0 * inverse }
    }
  }

  /// Sequences up to this length compute attention in plain loops rather than BLAS calls.
  static let smallSequence = 48

  /// One head's attention for one sequence: scores = scale · Q Kᵀ, masked softmax, context = P V.
  /// `query` indexes the head's first query in the fused [rows, 3·384] buffer (keys follow 384
  /// later, values 768); `out` its first context value in the [rows, 384] context.
  private func attendDirectly(
    qkv: [Float], query: Int, context: inout [Float], out: Int, scores: inout [Float],
    length: Int, scale: Float, mask: [Float], maskOffset: Int
  ) {
    let h = Self.hidden
    let stride = 3 * h
    let d = Self.headSize
    qkv.withUnsafeBufferPointer { qkv in
      scores.withUnsafeMutableBufferPointer { s in
        for i in 0..<length {
          let qi = qkv.baseAddress! + query + i * stride
          for j in 0..<length {
            let kj = qkv.baseAddress! + query + h + j * stride
            s[i * length + j] = Self.dot(qi, kj, count: d) * scale
          }
        }
      }
    }
    softmaxRows(&scores, length: length, mask: mask, maskOffset: maskOffset)
    scores.withUnsafeBufferPointer { s in
      qkv.withUnsafeBufferPointer { qkv in
        context.withUnsafeMutableBufferPointer { c in
          for i in 0..<length {
            let ci = c.baseAddress! + out + i * h
            for e in 0..<d { ci[e] = 0 }
            for j in 0..<length {
              let p = s[i * length + j]
              if p == 0 { continue }
              let vj = qkv.baseAddress! + query + 2 * h + j * stride
              for e in 0..<d { ci[e] += p * vj[e] }
            }
          }
        }
      }
    }
  }

  /// `out = input · W + b` for `rows` rows.
  private func apply(_ linear: Linear, to input: [Float], rows: Int, into out: inout [Float]) {
    out.withUnsafeMutableBufferPointer { out in
      let o = out.baseAddress!
      linear.bias.withUnsafeBufferPointer { bias in
        for row in 0..<rows {
          (o + row * linear.outputs).update(from: bias.baseAddress!, count: linear.outputs)
        }
      }
      input.withUnsafeBufferPointer { input in
        linear.weight.withUnsafeBufferPointer { weight in
          cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(linear.outputs),
            Int32(linear.inputs), 1, input.baseAddress!, Int32(linear.inputs),
            weight.baseAddress!, Int32(linear.outputs), 1, o, Int32(linear.outputs))
        }
      }
    }
  }

  private func addInPlace(_ x: inout [Float], _ y: [Float]) {
    x.withUnsafeMutableBufferPointer { x in
      y.withUnsafeBufferPointer { y in
        for i in 0..<x.count { x[i] += y[i] }
      }
    }
  }

  private func layerNorm(_ x: inout [Float], rows: Int, _ norm: Norm) {
    let h = Self.hidden
    x.withUnsafeMutableBufferPointer { x in
      norm.weight.withUnsafeBufferPointer { weight in
        norm.bias.withUnsafeBufferPointer { bias in
          for row in 0..<rows {
            let r = x.baseAddress! + row * h
            let mean = Self.sum(r, count: h) / Float(h)
            for i in 0..<h { r[i] -= mean }
            let variance = Self.dot(r, r, count: h) / Float(h)
            let inverse = 1 / (variance + Self.epsilon).squareRoot()
            for i in 0..<h { r[i] = r[i] * inverse * weight[i] + bias[i] }
          }
        }
      }
    }
  }

  /// Masked softmax over each row of an `length × length` score matrix: padded keys get zero.
  private func softmaxRows(_ scores: inout [Float], length: Int, mask: [Float], maskOffset: Int) {
    scores.withUnsafeMutableBufferPointer { s in
      mask.withUnsafeBufferPointer { mask in
        for row in 0..<length {
          let r = s.baseAddress! + row * length
          var peak = -Float.infinity
          for j in 0..<length where mask[maskOffset + j] > 0 { peak = max(peak, r[j]) }
          var sum: Float = 0
          for j in 0..<length {
            let value: Float =
              mask[maskOffset + j] > 0 ? Self.exponentOfNonPositive(r[j] - peak) : 0
            r[j] = value
            sum += value
          }
          let inverse = 1 / sum
          for j in 0..<length { r[j] *= inverse }
        }
      }
    }
  }

  /// GELU, `x · Φ(x) = x/2 · (1 + erf(x/√2))`, with erf from Abramowitz & Stegun 7.1.26
  /// (absolute error ≤ 1.5e-7, below float32's resolution of the result): a polynomial and one
  /// exponential instead of libm's erff, which cost a fifth of a batch-1 forward pass; the
  /// exponential is `exponentOfNonPositive`, which the compiler vectorises (libm's expf is a call
  /// per element: three times slower over the whole loop).
  private func gelu(_ x: inout [Float]) {
    x.withUnsafeMutableBufferPointer { x in
      for i in 0..<x.count {
        let value = x[i]
        let z = abs(value) * 0.707_106_77
        let t = 1 / (1 + 0.327_591_1 * z)
        let poly =
          t
          * (0.254_829_592
            + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))))
        let erfAbs = 1 - poly * Self.exponentOfNonPositive(-z * z)
        let erf = value < 0 ? -erfAbs : erfAbs
        x[i] = 0.5 * value * (1 + erf)
      }
    }
  }

  /// `eˣ` for `x ≤ 0` (below -87 it returns about 2⁻¹²⁶): `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`,
  /// `eʳ` by its Taylor polynomial to r⁶ (relative error below 2e-7), `2ⁿ` built in the exponent
  /// bits. Only arithmetic and bit operations, so loops around it vectorise.
  @inline(__always)
  static func exponentOfNonPositive(_ x: Float) -> Float {
    let clamped = max(x, -87)
    // Adding 1.5·2²³ rounds x·log₂e to an integer held in the low bits of the mantissa.
    let shifted = clamped * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    let r = clamped - n * 0.693_145_75 - n * 1.428_606_8e-6
    let series =
      1 + r
      * (1 + r
        * (0.5 + r * (0.166_666_67 + r * (0.041_666_668 + r * (0.008_333_361 + r * 0.001_388_89)))))
    let power = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
    return series * power
  }

  /// `Σ aᵢ·bᵢ` over `count` elements, a multiple of 8 (every length here is): two four-wide
  /// partial sums, so the loop runs on vector registers (a plain `+=` loop stays scalar, since
  /// reordering a float sum changes it, and waits on each addition in turn).
  @inline(__always)
  static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    assert(count % 8 == 0)
    var low = SIMD4<Float>()
    var high = SIMD4<Float>()
    let a = UnsafeRawPointer(a)
    let b = UnsafeRawPointer(b)
    let width = MemoryLayout<SIMD4<Float>>.size
    for offset in stride(from: 0, to: count * 4, by: 2 * width) {
      low +=
        a.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
        * b.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
      high +=
        a.loadUnaligned(fromByteOffset: offset + width, as: SIMD4<Float>.self)
        * b.loadUnaligned(fromByteOffset: offset + width, as: SIMD4<Float>.self)
    }
    return (low + high).sum()
  }

  /// `Σ aᵢ` over `count` elements, a multiple of 8, as `dot`.
  @inline(__always)
  static func sum(_ a: UnsafePointer<Float>, count: Int) -> Float {
    assert(count % 8 == 0)
    var low = SIMD4<Float>()
    var high = SIMD4<Float>()
    let a = UnsafeRawPointer(a)
    let width = MemoryLayout<SIMD4<Float>>.size
    for offset in stride(from: 0, to: count * 4, by: 2 * width) {
      low += a.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
      high += a.loadUnaligned(fromByteOffset: offset + width, as: SIMD4<Float>.self)
    }
    return (low + high).sum()
  }
}
