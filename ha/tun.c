/*
 * tun.c - the tenant's TUN device (see tun.h).
 */
#include "config.h"

#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "tun.h"

#define TUN_DEV_PATH	"/dev/net/tun"

static void
tun_close_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/*
 * Descriptors of /dev/net/tun opened while still root. The device node is
 * mode 0600 root, so after privileges are dropped a tenant added by a
 * reload takes one of these; each serves one device.
 */
#define TUN_SPARES_MAX	64
static int	tun_spares[TUN_SPARES_MAX];
static int	tun_nspares;

int
tun_reserve(unsigned n)
{
	while (tun_nspares < TUN_SPARES_MAX && (unsigned)tun_nspares < n) {
		int fd = open(TUN_DEV_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (fd == -1)
			return -1;
		tun_spares[tun_nspares++] = fd;
	}
	return 0;
}

void
tun_release_spares(void)
{
	while (tun_nspares > 0)
		close(tun_spares[--tun_nspares]);
}

static int
tun_dev_open(void)
{
	int fd = open(TUN_DEV_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd == -1 && (errno == EACCES || errno == EPERM) && tun_nspares > 0)
		return tun_spares[--tun_nspares];
	return fd;
}

int
tun_open(const char *name, bool vnet_hdr, char *err, size_t errlen)
{
	struct ifreq ifr;
	unsigned int features = 0;
	size_t len;
	short flags = IFF_TUN | IFF_NO_PI;
	int fd;

	len = name != NULL ? strlen(name) : 0;
	/* An empty name would let the kernel pick tunN, which nobody expects. */
	if (len == 0 || len >= IFNAMSIZ || strchr(name, '/') != NULL) {
		snprintf(err, errlen, "tun \"%s\": invalid device name "
		    "(1 to %d characters, no '/')", name != NULL ? name : "",
		    IFNAMSIZ - 1);
		errno = EINVAL;
		return -1;
	}
	if ((fd = tun_dev_open()) == -1) {
		snprintf(err, errlen, "tun %s: open %s: %s%s", name, TUN_DEV_PATH,
		    strerror(errno), errno == EACCES ? " (no spare descriptor "
		    "left from start-up: restart to add more tenants)" : "");
		return -1;
	}
	if (vnet_hdr) {
		if (ioctl(fd, TUNGETFEATURES, &features) == -1 ||
		    (features & IFF_VNET_HDR) == 0) {
			snprintf(err, errlen, "tun %s: the kernel does not "
			    "offer IFF_VNET_HDR", name);
			close(fd);
			errno = EOPNOTSUPP;
			return -1;
		}
		flags |= IFF_VNET_HDR;
	}

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, len);
	ifr.ifr_flags = flags;
	if (ioctl(fd, TUNSETIFF, &ifr) == -1) {
		const char *why = "";

		if (errno == EBUSY)
			why = " (the device is held by another process)";
		else if (errno == EINVAL)
			why = " (a device of that name exists and is not a "
			    "matching TUN device)";
		else if (errno == EPERM)
			why = " (CAP_NET_ADMIN needed)";
		snprintf(err, errlen, "tun %s: TUNSETIFF: %s%s", name,
		    strerror(errno), why);
		tun_close_errno(fd);
		return -1;
	}
	if (strncmp(ifr.ifr_name, name, IFNAMSIZ) != 0) {
		snprintf(err, errlen, "tun %s: the kernel named the device "
		    "\"%.*s\"", name, IFNAMSIZ, ifr.ifr_name);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/*
	 * A fresh device is non-persistent already; a leftover made
	 * persistent by someone else would outlive us, so clear the flag:
	 * the device must vanish with the descriptor.
	 */
	if (ioctl(fd, TUNSETPERSIST, 0) == -1) {
		snprintf(err, errlen, "tun %s: TUNSETPERSIST 0: %s", name,
		    strerror(errno));
		tun_close_errno(fd);
		return -1;
	}
	return fd;
}
