// libmicrohttpd as seen from Swift. Its start and info calls are variadic, which Swift cannot
// call: these wrappers pass the options this project uses.
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>

/// An HTTP daemon on `port` (0: any free one) with its own polling thread; every request goes to
/// `handler` with `context`.
static inline struct MHD_Daemon *hb_mhd_start(uint16_t port, MHD_AccessHandlerCallback handler,
                                              void *context) {
  return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, port, NULL, NULL,
                          handler, context, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
                          MHD_OPTION_END);
}

/// The port the daemon listens on (0 if unknown).
static inline uint16_t hb_mhd_port(struct MHD_Daemon *daemon) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  return info == NULL ? 0 : info->port;
}
