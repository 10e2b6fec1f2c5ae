// libmicrohttpd as seen from Swift. Its start and info calls are variadic, which Swift cannot
// call: these wrappers pass the options this project uses.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <microhttpd.h>

/// An HTTP daemon on `address` (an IPv4 or IPv6 literal; "0.0.0.0" or "::" for every interface)
/// and `port` (0: any free one), with its own polling thread using epoll or poll (never select(),
/// which fails past FD_SETSIZE descriptors), at most `connection_limit` connections at once (the
/// rest are refused at accept), idle ones closed after 10 s. Every request goes to `handler`
/// with `context`. NULL when the address is not a literal or the port cannot be bound.
static inline struct MHD_Daemon *hb_mhd_start(const char *address, uint16_t port,
                                              unsigned int connection_limit,
                                              MHD_AccessHandlerCallback handler, void *context) {
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
  memset(&v4, 0, sizeof v4);
  memset(&v6, 0, sizeof v6);
  const struct sockaddr *bind_to;
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
  if (inet_pton(AF_INET, address, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    bind_to = (const struct sockaddr *)&v4;
  } else if (inet_pton(AF_INET6, address, &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    bind_to = (const struct sockaddr *)&v6;
    flags |= MHD_USE_IPv6;
  } else {
    return NULL;
  }
  return MHD_start_daemon(flags, port, NULL, NULL, handler, context, MHD_OPTION_SOCK_ADDR,
                          bind_to, MHD_OPTION_CONNECTION_LIMIT, connection_limit,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
}

/// The port the daemon listens on (0 if unknown).
static inline uint16_t hb_mhd_port(struct MHD_Daemon *daemon) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  return info == NULL ? 0 : info->port;
}
