import CMicroHTTPD
import Foundation

/// A small HTTP endpoint (`GET` only) served by libmicrohttpd on its own thread: what a process
/// shows its operators (`/metrics`, `/healthz`, `/readyz`).
// @unchecked: `daemon` is written in init and in `stop()` only, which the owner calls once.
public final class HTTPEndpoint: @unchecked Sendable {
  public struct Response: Sendable {
    public var status: Int
    public var contentType: String
    public var body: String

    public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
      self.status = status
      self.contentType = contentType
      self.body = body
    }
  }

  public typealias Handler = @Sendable (_ path: String) -> Response

  private var daemon: OpaquePointer?
  private let handler: Handler
  /// The port it listens on (the one asked for, or the one chosen for port 0).
  public private(set) var port = 0

  /// Listens on `port` on every interface (0: any free port).
  public init(port: Int, handler: @escaping Handler) throws {
    self.handler = handler
    let context = Unmanaged.passUnretained(self).toOpaque()
    guard let daemon = hb_mhd_start(UInt16(port), HTTPEndpoint.callback, context) else {
      throw HTTPEndpointError("cannot listen on port \(port) (in use, or not allowed)")
    }
    self.daemon = daemon
    self.port = Int(hb_mhd_port(daemon))
  }

  deinit { stop() }

  public func stop() {
    guard let daemon else { return }
    MHD_stop_daemon(daemon)
    self.daemon = nil
  }

  private static let callback: MHD_AccessHandlerCallback = {
    context, connection, url, method, _, _, _, _ in
    guard let context, let connection else { return MHD_Result.NO }
    let endpoint = Unmanaged<HTTPEndpoint>.fromOpaque(context).takeUnretainedValue()
    let verb = method.map { String(cString: $0) } ?? ""
    let response =
      verb == "GET" || verb == "HEAD"
      ? endpoint.handler(url.map { String(cString: $0) } ?? "/")
      : Response(status: 405, body: "only GET\n")
    var bytes = Array(response.body.utf8)
    guard
      let reply = bytes.withUnsafeMutableBytes({
        // 2: MHD_RESPMEM_MUST_COPY (it copies the bytes before this returns).
        MHD_create_response_from_buffer(
          $0.count, $0.baseAddress, MHD_ResponseMemoryMode(rawValue: 2)!)
      })
    else { return MHD_Result.NO }
    defer { MHD_destroy_response(reply) }
    _ = MHD_add_response_header(reply, "Content-Type", response.contentType)
    return MHD_queue_response(connection, UInt32(response.status), reply)
  }
}

/// The endpoint could not start.
public struct HTTPEndpointError: Error, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}
