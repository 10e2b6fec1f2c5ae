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

  /// Connections open at once at most (idle ones are closed after 10 s). Far more than a
  /// scraper and probes need, and served by epoll or poll, so that a crowd of idle connections
  /// neither breaks the server (select() failed past 1,024 descriptors) nor crowds out a probe.
  public static let connectionLimit = 4_096

  /// Whether `text` is an address the endpoint can listen on: an IPv4 or IPv6 literal.
  public static func isAddressLiteral(_ text: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
  }

  /// Listens on `address` (an IPv4 or IPv6 literal) and `port` (0: any free port).
  public init(address: String = "127.0.0.1", port: Int, handler: @escaping Handler) throws {
    self.handler = handler
    Self.raiseDescriptorLimit()
    let context = Unmanaged.passUnretained(self).toOpaque()
    guard
      let daemon = hb_mhd_start(
        address, UInt16(port), UInt32(Self.connectionLimit), HTTPEndpoint.callback, context)
    else {
      throw HTTPEndpointError(
        "cannot listen on \(address) port \(port) (not an IP address literal, in use, or not "
          + "allowed)")
    }
    self.daemon = daemon
    self.port = Int(hb_mhd_port(daemon))
  }

  deinit { stop() }

  /// Lets the process open as many descriptors as its hard limit allows (at most 65,536): the
  /// soft limit is often 1,024, which a few hundred connections and Kafka's sockets reach.
  static func raiseDescriptorLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    let wanted = min(limit.rlim_max, 65_536)
    guard limit.rlim_cur < wanted else { return }
    limit.rlim_cur = wanted
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
  }

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
