/*
 * mipha.c - the home agent daemon: start-up, the event loop, reload,
 * shutdown.
 *
 * The loop only dispatches: registration (registration.c), bindings
 * (binding.c), durability (persist.c, journal.c), tenants (tenant.c) and
 * the control socket (control.c, status.c) each own their concern. Start-up
 * opens every privileged resource, then drops to the configured user
 * keeping only the capabilities the daemon needs; modules are torn down in
 * reverse order at shutdown.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/capability.h>

#include "conf.h"
#include "control.h"
#include "fastpath.h"
#include "journal.h"
#include "log.h"
#include "mipha.h"
#include "netsetup.h"
#include "persist.h"
#include "tun.h"
#include "tunnel.h"

#define EXIT_CONFIG	1
#define EXIT_USAGE	2
#define EXIT_RUNTIME	3

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif

struct options {
	const char	*conf_path;
	const char	*pidfile;
	bool		 foreground;
	bool		 check_only;
	int		 verbosity;
};

static struct mipha	 daemon_state;
static struct persist	 persist_state;
static struct netsetup	 netsetup_state;

static bool		 netsetup_done;
/* Without -d: the pipe on which the starting command waits for our verdict. */
static int		 ready_fd = -1;

/* Tell the command that started us how the start-up ended. */
static void
startup_verdict(int status)
{
	uint8_t c = (uint8_t)status;

	if (ready_fd == -1)
		return;
	if (write(ready_fd, &c, 1) != 1)
		log_warn("cannot report start-up to the parent: %s",
		    strerror(errno));
	close(ready_fd);
	ready_fd = -1;
}

/* A start-up failure after tenants' devices and routes exist: undo them. */
static int
startup_failed(void)
{
	if (netsetup_done)
		netsetup_shutdown(&netsetup_state);
	fastpath_free(daemon_state.fastpath);
	daemon_state.fastpath = NULL;
	startup_verdict(EXIT_RUNTIME);
	return EXIT_RUNTIME;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: mipha [-d] [-n] [-f FILE] [-p PIDFILE] [-v]...\n");
	exit(EXIT_USAGE);
}

static void
parse_options(int argc, char *argv[], struct options *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->conf_path = SYSCONFDIR "/mipha/mipha.conf";
	o->pidfile = RUNSTATEDIR "/mipha.pid";
	while ((ch = getopt(argc, argv, "dnf:p:vh")) != -1) {
		switch (ch) {
		case 'd':
			o->foreground = true;
			break;
		case 'n':
			o->check_only = true;
			break;
		case 'f':
			o->conf_path = optarg;
			break;
		case 'p':
			o->pidfile = optarg;
			break;
		case 'v':
			o->verbosity++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
}

/* Keys live in these files: say so when others can read them. */
static void
warn_readable(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & S_IROTH))
		log_warn("%s is readable by every user but holds keys; "
		    "chmod o-r it", path);
}

static void
warn_config_permissions(const struct mipha_conf *conf)
{
	warn_readable(conf->ha.file);
	for (size_t i = 0; i < conf->ntenants; i++)
		warn_readable(conf->tenants[i]->file);
}

static size_t
expected_nodes(const struct mipha_conf *conf)
{
	size_t n = 0;

	for (size_t i = 0; i < conf->ntenants; i++)
		n += conf->tenants[i]->n_mobile_nodes;
	return n;
}

static void
reg_settings_from(const struct mipha_conf *conf, struct reg_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->ha_addr = conf->ha.address;
	s->port = conf->ha.port;
	s->max_lifetime = conf->ha.max_lifetime > 0xfffe ? 0xfffe :
	    (uint16_t)conf->ha.max_lifetime;
	s->replay_window = conf->ha.replay_window;
}

/* ---- reload ---- */

static struct tenant_conf *
take_old_tenant(struct mipha_conf *old, const char *file)
{
	for (size_t i = 0; i < old->ntenants; i++) {
		struct tenant_conf *tc = old->tenants[i];

		if (tc != NULL && strcmp(tc->file, file) == 0) {
			old->tenants[i] = NULL;
			return tc;
		}
	}
	return NULL;
}

static struct mobile_node *
rebind_map(void *arg, const struct binding *b)
{
	struct tenant_set *ts = arg;

	if (b->mn == NULL)
		return NULL;
	return tenant_set_find_node(ts, b->mn);
}

static void
append_msg(char *msg, size_t msglen, const char *s)
{
	size_t used = strlen(msg);

	if (used + 1 < msglen)
		snprintf(msg + used, msglen - used, "%s%s", used > 0 ? "\n" : "", s);
}

/*
 * Parse the configuration anew. A broken main file keeps everything as it
 * is; a broken tenant file keeps that tenant's previous configuration (and
 * bindings); the rest is reloaded. Bindings of unchanged nodes stay; those
 * of removed nodes and tenants go.
 */
int
mipha_reload(struct mipha *d, char *msg, size_t msglen)
{
	struct mipha_conf *nc = NULL, *old = d->conf;
	struct conf_errors errs;
	struct tenant_set *ts;
	struct reg_settings rs;
	char **files = NULL, line[512], err[256];
	size_t nfiles = 0, kept = 0, broken = 0;
	unsigned removed;

	msg[0] = '\0';
	conf_errors_init(&errs);
	d->reloads++;
	if (conf_load_main(d->conf_path, &nc, &errs) == -1 ||
	    conf_tenant_files(&nc->ha, &files, &nfiles, &errs) == -1) {
		for (size_t i = 0; i < errs.n; i++) {
			conf_error_fmt(&errs.v[i], line, sizeof(line));
			log_err("reload: %s", line);
			append_msg(msg, msglen, line);
		}
		append_msg(msg, msglen, "reload failed: the running configuration "
		    "is unchanged");
		log_err("reload failed: the running configuration is unchanged");
		conf_free(nc);
		conf_errors_free(&errs);
		d->reload_failures++;
		return -1;
	}
	for (size_t i = 0; i < nfiles; i++) {
		struct tenant_conf *tc = NULL;
		struct conf_errors terrs;

		conf_errors_init(&terrs);
		if (tenant_conf_load(files[i], &tc, &terrs) == -1) {
			broken++;
			for (size_t k = 0; k < terrs.n; k++) {
				conf_error_fmt(&terrs.v[k], line, sizeof(line));
				log_err("reload: %s", line);
				append_msg(msg, msglen, line);
			}
			/* Keep this tenant as it was, if it was running. */
			if ((tc = take_old_tenant(old, files[i])) != NULL) {
				snprintf(line, sizeof(line), "%s: tenant %s keeps "
				    "its previous configuration", files[i], tc->name);
				log_err("reload: %s", line);
				append_msg(msg, msglen, line);
				kept++;
			}
		}
		conf_errors_free(&terrs);
		if (tc != NULL && conf_add_tenant(nc, tc) == -1) {
			tenant_conf_free(tc);
			append_msg(msg, msglen, "out of memory");
			goto fail;
		}
	}
	if (conf_check_tenants(&nc->ha, nc->tenants, nc->ntenants, &errs) == -1) {
		for (size_t i = 0; i < errs.n; i++) {
			conf_error_fmt(&errs.v[i], line, sizeof(line));
			log_err("reload: %s", line);
			append_msg(msg, msglen, line);
		}
		goto fail;
	}
	if (nc->ha.address.s_addr != old->ha.address.s_addr ||
	    nc->ha.port != old->ha.port ||
	    strcmp(nc->ha.control_socket, old->ha.control_socket) != 0 ||
	    strcmp(nc->ha.state_dir, old->ha.state_dir) != 0 ||
	    (nc->ha.user == NULL) != (old->ha.user == NULL) ||
	    (nc->ha.user != NULL && strcmp(nc->ha.user, old->ha.user) != 0)) {
		snprintf(line, sizeof(line), "%s: changes to ha.address, port, "
		    "control_socket, state_dir or user take effect at the next "
		    "start", nc->ha.file);
		log_warn("reload: %s", line);
		append_msg(msg, msglen, line);
	}
	if ((ts = tenant_set_build(nc, d->tenants, err, sizeof(err))) == NULL) {
		append_msg(msg, msglen, err);
		goto fail;
	}
	if (binding_table_reserve(d->bindings, expected_nodes(nc)) == -1) {
		tenant_set_free(ts);
		append_msg(msg, msglen, "out of memory");
		goto fail;
	}
	/* Point bindings at their nodes in the new set; drop the orphans. */
	removed = binding_rebind(d->bindings, rebind_map, ts);
	reg_set_tenants(&d->reg, ts);
	persist_set_tenants(&persist_state, ts);
	tunnel_set_tenants(d->tunnel, ts);
	fastpath_set_tenants(d->fastpath, ts);
	reg_settings_from(nc, &rs);
	reg_set_settings(&d->reg, &rs);
	tenant_set_free(d->tenants);
	d->tenants = ts;
	d->conf = nc;
	conf_free(old);
	conf_tenant_files_free(files, nfiles);
	conf_errors_free(&errs);
	/* Devices, routes and rules of added, changed and removed tenants. */
	if (netsetup_sync(&netsetup_state, ts, err, sizeof(err)) == -1) {
		log_err("reload: %s", err);
		append_msg(msg, msglen, err);
		kept++;
	}
	/* The fast path's entries follow the new tenants; new links join. */
	fastpath_resync(d->fastpath);
	if (fastpath_attach_links(d->fastpath, err, sizeof(err)) == -1)
		log_warn("reload: fast path: %s", err);
	if (persist_commit(&persist_state) == -1) {
		log_err("journal commit failed after reload: %s", strerror(errno));
		exit(EXIT_RUNTIME);
	}
	snprintf(line, sizeof(line), "reloaded: %zu tenant(s), %u binding(s) "
	    "removed with their nodes or tenants", ts->n, removed);
	log_notice("%s", line);
	append_msg(msg, msglen, line);
	if (kept > 0 || broken > 0) {
		/* Reloaded, but some tenant file was bad: report an error. */
		d->reload_failures++;
		return -1;
	}
	return 0;
fail:
	conf_free(nc);
	conf_tenant_files_free(files, nfiles);
	conf_errors_free(&errs);
	append_msg(msg, msglen, "reload failed: the running configuration is "
	    "unchanged");
	log_err("reload failed: the running configuration is unchanged");
	d->reload_failures++;
	return -1;
}

static void
tunnel_data_cb(void *arg, uint8_t *buf, size_t len, const struct sockaddr_in *peer)
{
	tunnel_udp_input(arg, buf, len, peer);
}

static int
home_link_cb(void *arg, uint32_t tenant_id)
{
	return netsetup_home_ifindex(arg, tenant_id);
}

static void
came_home_cb(void *arg, uint32_t tenant_id, struct in_addr hoa)
{
	netsetup_came_home(arg, tenant_id, hoa);
}

/*
 * The MTU of the interface holding the HA address: outer datagrams to
 * care-of addresses leave through it in the usual set-up (1500 if unknown).
 */
static unsigned
ha_link_mtu(struct in_addr ha)
{
	struct ifaddrs *ifa, *i;
	struct ifreq ifr;
	unsigned mtu = 1500;
	int fd;

	if (getifaddrs(&ifa) == -1)
		return mtu;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) != -1) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
			    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr !=
			    ha.s_addr)
				continue;
			memset(&ifr, 0, sizeof(ifr));
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s",
			    i->ifa_name);
			if (ioctl(fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 576)
				mtu = (unsigned)ifr.ifr_mtu;
			break;
		}
		close(fd);
	}
	freeifaddrs(ifa);
	return mtu;
}

/* ---- signals ---- */

static void
sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	char msg[4096];

	(void)loop;
	(void)revents;
	(void)mipha_reload(w->data, msg, sizeof(msg));
}

static void
sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	log_notice("shutting down on signal %d", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

/* ---- process ---- */

static int
write_pidfile(const char *path)
{
	char buf[32], dir[256], *slash;
	int fd, n;

	/* $runstatedir may not exist yet for a fresh prefix: make its level. */
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == -1 && errno != EEXIST)
			return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/*
 * Detach. The command that started us stays until the daemon has written
 * its pid file and changed its user, and exits with the daemon's verdict
 * (startup_verdict()): 0, or 3 when that failed or the daemon died first.
 */
static int
daemonize(void)
{
	pid_t pid;
	int fd, p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0) {
		uint8_t c;
		ssize_t n;

		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n == -1 && errno == EINTR);
		(void)waitpid(pid, NULL, 0);	/* the intermediate child */
		_exit(n == 1 ? c : EXIT_RUNTIME);
	}
	close(p[0]);
	ready_fd = p[1];
	if (setsid() == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		return -1;
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		return -1;
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

/*
 * Run as `user` from here on, keeping CAP_NET_ADMIN (routes, rules, TUN
 * devices at reload), CAP_NET_RAW (tunnel sockets) and
 * CAP_NET_BIND_SERVICE; nothing else (BIRD keeps the same three).
 */
static int
drop_privileges(const char *user, const char *state_dir, const char *sock,
    char *err, size_t errlen)
{
	static const cap_value_t keep[] = {
		CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE
	};
	struct passwd *pw;
	cap_t caps;

	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "unknown user %s", user);
		return -1;
	}
	/* The journal is compacted by rename in state_dir: it must be ours. */
	if (chown(state_dir, pw->pw_uid, pw->pw_gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", state_dir, strerror(errno));
		return -1;
	}
	/*
	 * The socket, not its directory: that may be shared (/run). A socket
	 * left behind at shutdown is cleared by the next start.
	 */
	if (sock != NULL && chown(sock, pw->pw_uid, pw->pw_gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", sock, strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1 ||
	    setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if ((caps = cap_init()) == NULL)
		goto fail;
	if (cap_set_flag(caps, CAP_PERMITTED, 3, keep, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 3, keep, CAP_SET) == -1 ||
	    cap_set_proc(caps) == -1) {
		cap_free(caps);
		goto fail;
	}
	cap_free(caps);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot set capabilities: %s", strerror(errno));
	return -1;
}

static int
check_config(const char *path, struct mipha_conf **out)
{
	struct conf_errors errs;
	int rc;

	conf_errors_init(&errs);
	rc = conf_load(path, out, &errs);
	if (rc == -1)
		conf_errors_print(&errs, stderr);
	conf_errors_free(&errs);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct mipha *d = &daemon_state;
	struct options o;
	struct reg_settings rs;
	struct timespec now;
	ev_signal sighup, sigterm, sigint;
	char err[512];
	bool pidfile_written = false;
	unsigned link_mtu;

	parse_options(argc, argv, &o);
	memset(d, 0, sizeof(*d));
	d->conf_path = o.conf_path;
	if (check_config(o.conf_path, &d->conf) == -1)
		return EXIT_CONFIG;
	if (o.check_only) {
		conf_free(d->conf);
		return 0;
	}

	log_init("mipha", o.foreground, o.verbosity);
	warn_config_permissions(d->conf);
	/* Replies must not kill us when a peer vanishes mid-write. */
	signal(SIGPIPE, SIG_IGN);

	d->loop = ev_default_loop(EVFLAG_AUTO);
	d->bindings = binding_table_new(d->loop, expected_nodes(d->conf));
	if (d->bindings == NULL) {
		log_err("out of memory for the binding table");
		return EXIT_RUNTIME;
	}
	if ((d->tenants = tenant_set_build(d->conf, NULL, err, sizeof(err))) ==
	    NULL) {
		log_err("%s", err);
		return EXIT_RUNTIME;
	}
	binding_subscribe(d->bindings, tenant_binding_event, d->bindings);

	if (mkdir(d->conf->ha.state_dir, 0700) == -1 && errno != EEXIST) {
		log_err("cannot create %s: %s", d->conf->ha.state_dir,
		    strerror(errno));
		return EXIT_RUNTIME;
	}
	if ((d->journal = journal_open(d->conf->ha.state_dir, err,
	    sizeof(err))) == NULL) {
		log_err("%s", err);
		return EXIT_RUNTIME;
	}
	if (persist_init(&persist_state, d->loop, d->journal, d->bindings) == -1) {
		log_err("cannot subscribe the journal to the binding table");
		return EXIT_RUNTIME;
	}
	persist_set_tenants(&persist_state, d->tenants);
	if (clock_gettime(CLOCK_REALTIME, &now) == -1) {
		log_err("clock_gettime: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	d->started = now.tv_sec;
	if (persist_restore(&persist_state, now.tv_sec, err, sizeof(err)) == -1) {
		log_err("cannot restore bindings: %s", err);
		return EXIT_RUNTIME;
	}
	log_notice("restored %zu binding(s) from %s (%zu expired, %zu of "
	    "nodes no longer configured)", persist_state.restored,
	    d->conf->ha.state_dir, persist_state.skipped_expired,
	    persist_state.skipped_unknown);

	reg_settings_from(d->conf, &rs);
	reg_init(&d->reg, d->loop, d->bindings, &rs);
	reg_set_tenants(&d->reg, d->tenants);
	reg_set_commit(&d->reg, persist_commit, &persist_state);
	if (reg_open(&d->reg, err, sizeof(err)) == -1) {
		log_err("%s", err);
		return EXIT_RUNTIME;
	}
	/* The data plane: raw tunnel sockets, then each tenant's device. */
	link_mtu = ha_link_mtu(d->conf->ha.address);
	if ((d->tunnel = tunnel_new(d->loop, d->bindings, d->conf->ha.address,
	    link_mtu, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return EXIT_RUNTIME;
	}
	tunnel_set_tenants(d->tunnel, d->tenants);
	tunnel_set_udp_socket(d->tunnel, d->reg.io.fd, d->conf->ha.port);
	reg_set_tunnel_data(&d->reg, tunnel_data_cb, d->tunnel);
	/*
	 * The kernel-speed half: without it (refused by the kernel, or
	 * `fastpath = false`) the userspace path carries everything.
	 */
	if (d->conf->ha.fastpath) {
		d->fastpath = fastpath_new(d->bindings, d->conf->ha.address,
		    d->conf->ha.port, link_mtu, expected_nodes(d->conf), err,
		    sizeof(err));
		if (d->fastpath == NULL)
			log_warn("fast path not available (%s): the userspace "
			    "data plane carries every packet", err);
		fastpath_set_tenants(d->fastpath, d->tenants);
	} else
		log_notice("fast path disabled by configuration");
	if (netsetup_init(&netsetup_state, d->loop, d->tunnel, d->fastpath,
	    d->bindings, link_mtu, err,
	    sizeof(err)) == -1 ||
	    netsetup_sync(&netsetup_state, d->tenants, err, sizeof(err)) == -1) {
		log_err("%s", err);
		netsetup_shutdown(&netsetup_state);
		fastpath_free(d->fastpath);
		return EXIT_RUNTIME;
	}
	netsetup_done = true;
	d->netsetup = &netsetup_state;
	reg_set_home_link(&d->reg, home_link_cb, came_home_cb, &netsetup_state);
	if (d->fastpath != NULL) {
		int n;

		fastpath_resync(d->fastpath);
		if ((n = fastpath_attach_links(d->fastpath, err, sizeof(err))) == -1)
			log_warn("fast path: %s", err);
		else
			log_info("fast path on %d interface(s) and %zu tenant "
			    "device(s)", n, d->tenants->n);
		if (fastpath_watch_links(d->fastpath, d->loop, err,
		    sizeof(err)) == -1)
			log_warn("fast path: %s; interfaces added later get it "
			    "at the next reload", err);
	}
	if ((d->control = control_open(d->loop, d->conf->ha.control_socket,
	    err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return startup_failed();
	}
	status_register(d);

	/*
	 * Everything that can fail at start-up has been tried: only now
	 * detach, so `mipha` without -d exits 3 on a bind or device failure.
	 */
	if (!o.foreground) {
		if (daemonize() == -1) {
			log_err("cannot daemonize: %s", strerror(errno));
			return startup_failed();
		}
		ev_loop_fork(d->loop);
	}
	if (o.pidfile != NULL && o.pidfile[0] != '\0') {
		if (write_pidfile(o.pidfile) == -1) {
			log_err("cannot write pid file %s: %s", o.pidfile,
			    strerror(errno));
			return startup_failed();
		}
		pidfile_written = true;
	}
	if (d->conf->ha.user != NULL) {
		/* Tenants added by a reload need /dev/net/tun, root's only. */
		if (tun_reserve(16) == -1)
			log_warn("cannot reserve TUN descriptors for reloads: %s",
			    strerror(errno));
		if (drop_privileges(d->conf->ha.user, d->conf->ha.state_dir,
		    d->conf->ha.control_socket, err, sizeof(err)) == -1) {
			log_err("%s", err);
			return startup_failed();
		}
		log_info("running as %s with CAP_NET_ADMIN, CAP_NET_RAW and "
		    "CAP_NET_BIND_SERVICE only", d->conf->ha.user);
	} else
		log_notice("no user configured: running as root");
	startup_verdict(0);

	ev_signal_init(&sighup, sighup_cb, SIGHUP);
	sighup.data = d;
	ev_signal_start(d->loop, &sighup);
	ev_signal_init(&sigterm, sigterm_cb, SIGTERM);
	ev_signal_start(d->loop, &sigterm);
	ev_signal_init(&sigint, sigterm_cb, SIGINT);
	ev_signal_start(d->loop, &sigint);

	{
		char ha[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &d->conf->ha.address, ha, sizeof(ha));
		log_notice("mipha %s: home agent %s port %u, %zu tenant(s), "
		    "%zu binding(s)", PACKAGE_VERSION, ha, d->conf->ha.port,
		    d->tenants->n, binding_count(d->bindings));
	}
	ev_run(d->loop, 0);

	/* Shutdown, in reverse order of start-up. */
	reg_free(&d->reg);
	control_close(d->control);
	netsetup_shutdown(&netsetup_state);
	fastpath_free(d->fastpath);
	tunnel_free(d->tunnel);
	tun_release_spares();
	if (persist_commit(&persist_state) == -1)
		log_err("final journal commit failed: %s", strerror(errno));
	journal_close(d->journal);
	binding_table_free(d->bindings);
	tenant_set_free(d->tenants);
	conf_free(d->conf);
	if (pidfile_written)
		(void)unlink(o.pidfile);
	log_notice("stopped");
	log_close();
	ev_loop_destroy(d->loop);
	return 0;
}
