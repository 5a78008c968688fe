/*
 * tun.h - the tenant's TUN device: where packets for home addresses come
 * out of the kernel and decapsulated packets from mobile nodes go back in.
 *
 * The device is created non-persistent: it exists exactly as long as the
 * file descriptor returned by tun_open() (or a dup of it) is open. Closing
 * the descriptor, or the daemon dying by any means (a crash, SIGKILL), makes
 * the kernel delete the device, and with it every route that points through
 * it (the main-table route to the home network). That is how a crash cleans
 * the data-plane device up by itself; routes in the tenant table and the
 * `iif` rule survive and are removed by route_flush_own() at the next start.
 *
 * Only the device is made here; its state (up, MTU) and the routes towards
 * it belong to route.h.
 *
 * Privileges: creating a device needs CAP_NET_ADMIN, and /dev/net/tun is
 * often mode 0600 root: a daemon that drops root opens its devices first
 * (or keeps CAP_DAC_OVERRIDE to add tenants on reload).
 */
#ifndef MIPHA_TUN_H
#define MIPHA_TUN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Open /dev/net/tun and attach to (creating if needed) the layer-3 device
 * `name` (IFF_TUN | IFF_NO_PI: every read and write is one bare IPv4
 * packet). With vnet_hdr, IFF_VNET_HDR is requested too and every packet is
 * preceded by a struct virtio_net_hdr (for GSO/GRO offloads); the call fails
 * when the kernel lacks it. The descriptor is non-blocking and close-on-exec.
 * A device of that name left persistent by someone else is made
 * non-persistent, so that it too goes away with the descriptor.
 *
 * Returns the descriptor, or -1 with errno set and a message naming the
 * device in err (e.g. the name is in use by another process or is not a TUN
 * device).
 */
int	tun_open(const char *name, bool vnet_hdr, char *err, size_t errlen);

/* Open n spare descriptors now, for devices created after dropping root. */
int	tun_reserve(unsigned n);
void	tun_release_spares(void);

#endif /* MIPHA_TUN_H */
