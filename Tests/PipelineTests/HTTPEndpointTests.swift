import Pipeline
import Testing

@Suite struct HTTPEndpointTests {
  /// `--metrics-address` takes what the endpoint can bind: an IPv4 or IPv6 literal, no name.
  @Test func anAddressIsAnIPv4OrIPv6Literal() {
    for address in ["127.0.0.1", "0.0.0.0", "::", "::1", "fe80::1"] {
      #expect(HTTPEndpoint.isAddressLiteral(address), "\(address)")
    }
    for address in ["localhost", "", "256.0.0.1", "1.2.3", "127.0.0.1:80", ":::"] {
      #expect(!HTTPEndpoint.isAddressLiteral(address), "\(address)")
    }
  }
}
