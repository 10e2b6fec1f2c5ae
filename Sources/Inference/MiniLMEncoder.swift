import CDNNL
import CXSMM
import Foundation
import Synchronization

/// The all-MiniLM-L6-v2 sentence encoder: BERT embeddings, six layers of multi-head
/// self-attention and GELU feed-forward with LayerNorm, mean pooling, L2 normalisation.
///
/// Batched without padding: the batch's tokens are packed row after row (a sequence of n tokens
/// takes n rows), every projection is one product over all rows on weights kept in panels
/// (`PackedLinear`, LIBXSMM kernels generated for the CPU), and attention runs per sequence and
/// head over that sequence's own rows. With `threads` > 1 the products' panels, the element-wise
/// work and attention are split over GNU OpenMP's threads (see `Parallel`).
public final class MiniLMEncoder: Sendable {
  public static let hidden = 384
  static let heads = 12
  static let headSize = 32
  static let intermediate = 1536
  static let layers = 6
  static let epsilon: Float = 1e-12

  struct Norm: Sendable {
    let weight: [Float]
    let bias: [Float]
  }

  struct Layer: Sendable {
    /// Query, key and value projections fused into one [384, 3·384] weight: one product
    /// instead of three.
    let queryKeyValue: PackedLinear
    let attentionOutput: PackedLinear
    let attentionNorm: Norm
    let intermediate: PackedLinear
    let output: PackedLinear
    let outputNorm: Norm
  }

  let wordEmbeddings: [Float]
  let positionEmbeddings: [Float]
  let tokenTypeEmbeddings: [Float]
  let embeddingNorm: Norm
  let layers: [Layer]
  public let tokenizer: WordPieceTokenizer
  let maxPositions: Int
  /// Scratch buffers, reused across calls (fresh megabyte-sized buffers per call cost page
  /// faults); one per concurrent call.
  private let workspaces = Mutex<[EncoderWorkspace]>([])

  public init(tensors: SafeTensors, tokenizer: WordPieceTokenizer) throws(InferenceError) {
    let h = Self.hidden
    let vocabulary = tensors.entries["embeddings.word_embeddings.weight"]?.shape.first ?? 0
    maxPositions = tensors.entries["embeddings.position_embeddings.weight"]?.shape.first ?? 0
    guard vocabulary > 0, maxPositions >= tokenizer.maxLength else {
      throw InferenceError("the model's embeddings do not fit a \(tokenizer.maxLength)-token input")
    }
    /// The weight and bias of one or more PyTorch linear layers of the same input, stacked by
    /// output (several give one fused product).
    func linear(_ names: [String], _ inputs: Int, _ outputs: Int) throws(InferenceError)
      -> PackedLinear
    {
      var weight: [Float] = []
      var bias: [Float] = []
      for name in names {
        weight += try tensors.floats("\(name).weight", shape: [outputs, inputs])
        bias += try tensors.floats("\(name).bias", shape: [outputs])
      }
      return PackedLinear(
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
    // Sets up LIBXSMM's kernel registry once per process (later calls return at once).
    libxsmm_init()
  }

  /// Loads the model from a directory holding `model.safetensors` and `vocab.txt`.
  public convenience init(directory: String, maxLength: Int = 256) throws(InferenceError) {
    let tensors = try SafeTensors(path: directory + "/model.safetensors")
    let tokenizer = try WordPieceTokenizer(
      vocabularyPath: directory + "/vocab.txt", maxLength: maxLength)
    try self.init(tensors: tensors, tokenizer: tokenizer)
  }

  /// Unit-length sentence embeddings, one per text, computed on `threads` threads.
  public func embed(_ texts: [String], threads: Int = 1) -> [[Float]] {
    embed(tokens: texts.map(tokenizer.encode), threads: threads)
  }

  /// Embeddings of already tokenised inputs (each with `[CLS]` and `[SEP]`), computed on
  /// `threads` threads (the calling thread and `threads - 1` OpenMP threads).
  public func embed(tokens batch: [[Int32]], threads: Int = 1) -> [[Float]] {
    guard !batch.isEmpty else { return [] }
    let threads = max(1, min(threads, 1024))
    // The OpenMP count is per calling thread: set it for this thread's parallel regions.
    omp_set_num_threads(Int32(threads))
    var starts: [Int] = []
    var rows = 0
    let vocabulary = wordEmbeddings.count / Self.hidden
    for ids in batch {
      // The embedding tables are read without bounds checks below.
      precondition(
        ids.count <= maxPositions, "an input longer than the model's \(maxPositions) positions")
      precondition(
        ids.allSatisfy { $0 >= 0 && Int($0) < vocabulary }, "a token id outside the vocabulary")
      starts.append(rows)
      rows += ids.count
    }
    let longest = batch.map(\.count).max()!
    let space = workspaces.withLock { $0.popLast() } ?? EncoderWorkspace()
    defer { workspaces.withLock { $0.append(space) } }
    space.fit(rows: rows, longest: longest, threads: threads)
    let parallel = Parallel(threads: threads)
    let sequences = zip(starts, batch).map {
      Sequence(start: $0, ids: $1, attention: AttentionProducts(length: $1.count))
    }
    embedTokens(sequences, into: space.x, parallel: parallel, rows: rows)
    for layer in layers {
      encode(layer, sequences: sequences, rows: rows, space: space, parallel: parallel)
    }
    return sequences.map { pool(space.x + $0.start * Self.hidden, rows: $0.ids.count) }
  }

  /// One input's place in the packed rows, and its attention products.
  struct Sequence {
    let start: Int
    let ids: [Int32]
    let attention: AttentionProducts
  }

  /// Word + position + token type 0 embeddings, then LayerNorm, row by row.
  private func embedTokens(
    _ sequences: [Sequence], into x: UnsafeMutablePointer<Float>, parallel: Parallel, rows: Int
  ) {
    let h = Self.hidden
    var owners: [(sequence: Int, position: Int)] = []
    owners.reserveCapacity(rows)
    for (index, sequence) in sequences.enumerated() {
      for position in sequence.ids.indices { owners.append((index, position)) }
    }
    wordEmbeddings.withUnsafeBufferPointer { words in
      positionEmbeddings.withUnsafeBufferPointer { positions in
        tokenTypeEmbeddings.withUnsafeBufferPointer { types in
          parallel.rows(rows) { range in
            for row in range {
              let (sequence, position) = owners[row]
              let id = Int(sequences[sequence].ids[position])
              let out = x + row * h
              let word = words.baseAddress! + id * h
              let place = positions.baseAddress! + position * h
              for i in 0..<h { out[i] = word[i] + place[i] + types[i] }
              Self.normalize(out, embeddingNorm)
            }
          }
        }
      }
    }
  }

  /// One transformer layer over the packed rows in `space.x`, in place.
  private func encode(
    _ layer: Layer, sequences: [Sequence], rows: Int, space: EncoderWorkspace, parallel: Parallel
  ) {
    let h = Self.hidden
    // Fused Q, K, V with their bias.
    layer.queryKeyValue.bias.withUnsafeBufferPointer { bias in
      for row in 0..<rows {
        (space.qkv + row * 3 * h).update(from: bias.baseAddress!, count: 3 * h)
      }
    }
    layer.queryKeyValue.product(
      space.x, rows: rows, into: space.qkv, accumulate: true, parallel: parallel)
    // Attention, one (sequence, head) pair at a time.
    let costs = sequences.flatMap { repeatElement($0.ids.count, count: Self.heads) }
    let scale = 1 / Float(Self.headSize).squareRoot()
    parallel.items(costs: costs) { pair, thread in
      let sequence = sequences[pair / Self.heads]
      let head = pair % Self.heads
      Self.attend(
        qkv: space.qkv + sequence.start * 3 * h + head * Self.headSize,
        context: space.context + sequence.start * h + head * Self.headSize,
        scores: space.scores(thread: thread), keys: space.transposedKeys(thread: thread),
        length: sequence.ids.count, scale: scale, products: sequence.attention)
    }
    // Output projection, residual and LayerNorm.
    layer.attentionOutput.product(
      space.context, rows: rows, into: space.projected, parallel: parallel)
    addResidualAndNormalize(
      space, bias: layer.attentionOutput.bias, layer.attentionNorm, rows, parallel)
    // Feed-forward: GELU(x W₁ + b₁) W₂ + b₂, residual and LayerNorm.
    layer.intermediate.product(space.x, rows: rows, into: space.expanded, parallel: parallel)
    layer.intermediate.bias.withUnsafeBufferPointer { bias in
      parallel.rows(rows) { range in
        for row in range {
          VectorMath.addBiasAndGELU(
            space.expanded + row * Self.intermediate, bias.baseAddress!, count: Self.intermediate)
        }
      }
    }
    layer.output.product(space.expanded, rows: rows, into: space.projected, parallel: parallel)
    addResidualAndNormalize(space, bias: layer.output.bias, layer.outputNorm, rows, parallel)
  }

  /// `x = LayerNorm(x + projected + bias)`, row by row.
  private func addResidualAndNormalize(
    _ space: EncoderWorkspace, bias: [Float], _ norm: Norm, _ rows: Int, _ parallel: Parallel
  ) {
    let h = Self.hidden
    bias.withUnsafeBufferPointer { bias in
      parallel.rows(rows) { range in
        for row in range {
          Self.normalize(
            space.x + row * h, norm, residual: space.projected + row * h, bias: bias.baseAddress!)
        }
      }
    }
  }

  /// Mean of `rows` rows from `x`, scaled to unit length.
  private func pool(_ x: UnsafeMutablePointer<Float>, rows: Int) -> [Float] {
    let h = Self.hidden
    var pooled = [Float](repeating: 0, count: h)
    for row in 0..<rows {
      for i in 0..<h { pooled[i] += x[row * h + i] }
    }
    var norm: Float = 0
    for i in 0..<h {
      pooled[i] /= Float(max(rows, 1))
      norm += pooled[i] * pooled[i]
    }
    let inverse = 1 / max(norm.squareRoot(), 1e-12)
    return pooled.map { $0 * inverse }
  }

  /// The two attention products for a sequence of `length` tokens, one head at a time.
  struct AttentionProducts {
    /// Scores Q Kᵀ: column-major [length, length] from the head's keys transposed
    /// ([length, 32] column-major) and its queries ([32, length], rows 3·384 apart).
    let scores: SmallProduct
    /// Context P V: column-major [32, length] (rows 384 apart) from the head's values ([32,
    /// length], rows 3·384 apart) and the probabilities ([length, length]).
    let context: SmallProduct

    init(length: Int) {
      let stride = 3 * hidden
      scores = SmallProduct(
        m: length, n: length, k: headSize, lda: length, ldb: stride, ldc: length)
      context = SmallProduct(
        m: headSize, n: length, k: length, lda: stride, ldb: length, ldc: hidden)
    }
  }

  /// One head's attention for one sequence of `length` rows: scores = Q Kᵀ, softmax of the
  /// scaled scores, context = P V. `qkv` points at the head's first query in the fused
  /// [rows, 3·384] buffer (keys follow 384 later, values 768); `context` at its first value in
  /// the [rows, 384] context; `scores` holds `length²` floats and `keys` `32·length`.
  static func attend(
    qkv: UnsafePointer<Float>, context: UnsafeMutablePointer<Float>,
    scores: UnsafeMutablePointer<Float>, keys: UnsafeMutablePointer<Float>, length: Int,
    scale: Float, products: AttentionProducts
  ) {
    let h = hidden
    let stride = 3 * h
    // The head's keys transposed, so that both products read their operands as stored.
    for j in 0..<length {
      let key = qkv + h + j * stride
      for e in 0..<headSize { keys[e * length + j] = key[e] }
    }
    products.scores.run(keys, qkv, scores)
    for row in 0..<length { VectorMath.softmax(scores + row * length, count: length, scale: scale) }
    products.context.run(qkv + 2 * h, scores, context)
  }

  /// LayerNorm of one 384-wide row in place, of `r + residual + bias` where a residual is
  /// given.
  @inline(__always)
  static func normalize(
    _ r: UnsafeMutablePointer<Float>, _ norm: Norm, residual: UnsafePointer<Float>? = nil,
    bias: UnsafePointer<Float>? = nil
  ) {
    norm.weight.withUnsafeBufferPointer { weight in
      norm.bias.withUnsafeBufferPointer { shift in
        VectorMath.addAndNormalize(
          r, residual: residual, bias: bias, weight: weight.baseAddress!,
          shift: shift.baseAddress!, count: hidden, epsilon: epsilon)
      }
    }
  }
}
