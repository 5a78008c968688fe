/*
 * log.c - syslog or stderr logging with per-class rate limits.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/*
 * Per class: up to `burst` lines at once, refilled at `rate` per second.
 * Accepted registrations are the operator's audit trail and get a generous
 * budget; what remote garbage can trigger gets a small one.
 */
static const struct {
	double	rate;
	double	burst;
} log_rl_limits[LOG_CLASS_MAX] = {
	[LOG_CLASS_REG_OK] = { 1000, 2000 },
	[LOG_CLASS_REG_DENY] = { 50, 200 },
	[LOG_CLASS_REG_DROP] = { 50, 200 },
	[LOG_CLASS_DATA] = { 20, 100 },
};

struct log_bucket {
	double		 tokens;
	double		 last;		/* monotonic seconds of last refill */
	unsigned long	 suppressed;
};

static bool		 log_foreground;
static int		 log_max_prio = LOG_INFO;
static struct log_bucket log_buckets[LOG_CLASS_MAX];

static const char *const log_class_names[LOG_CLASS_MAX] = {
	[LOG_CLASS_REG_OK] = "accepted registration",
	[LOG_CLASS_REG_DENY] = "denied registration",
	[LOG_CLASS_REG_DROP] = "discarded request",
	[LOG_CLASS_DATA] = "data-plane",
};

void
log_init(const char *ident, bool foreground, int verbosity)
{
	log_foreground = foreground;
	/* Default: decisions (info) are logged; -v adds debug. */
	log_max_prio = verbosity > 0 ? LOG_DEBUG : LOG_INFO;
	for (int i = 0; i < LOG_CLASS_MAX; i++) {
		log_buckets[i].tokens = log_rl_limits[i].burst;
		log_buckets[i].last = -1;
		log_buckets[i].suppressed = 0;
	}
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_close(void)
{
	if (!log_foreground)
		closelog();
}

bool
log_enabled(int prio)
{
	return prio <= log_max_prio;
}

static void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	if (!log_enabled(prio))
		return;
	if (log_foreground) {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else
		vsyslog(prio, fmt, ap);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

static double
log_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

bool
log_rl_take(enum log_class cls, int prio)
{
	struct log_bucket *b = &log_buckets[cls];
	double now;

	if (!log_enabled(prio))
		return false;
	now = log_now();
	if (b->last >= 0) {
		b->tokens += (now - b->last) * log_rl_limits[cls].rate;
		if (b->tokens > log_rl_limits[cls].burst)
			b->tokens = log_rl_limits[cls].burst;
	}
	b->last = now;
	if (b->tokens < 1) {
		b->suppressed++;
		return false;
	}
	b->tokens -= 1;
	if (b->suppressed > 0) {
		log_msg(LOG_NOTICE, "%lu %s messages suppressed by rate limit",
		    b->suppressed, log_class_names[cls]);
		b->suppressed = 0;
	}
	return true;
}

void
log_rl(enum log_class cls, int prio, const char *fmt, ...)
{
	va_list ap;

	if (!log_rl_take(cls, prio))
		return;
	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}
