/*
 * log.h - the daemon's logging: syslog, or stderr in the foreground.
 *
 * Messages caused by remote input go through log_rl(), a token bucket per
 * class, so a flood of bad packets cannot flood syslog; what was held back
 * is summarised once the bucket refills. Keys are never logged.
 */
#ifndef MIPHA_LOG_H
#define MIPHA_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

enum log_class {
	LOG_CLASS_REG_OK,	/* accepted registrations */
	LOG_CLASS_REG_DENY,	/* denied registrations (remote-triggered) */
	LOG_CLASS_REG_DROP,	/* silently discarded requests */
	LOG_CLASS_DATA,		/* data-plane drops */
	LOG_CLASS_MAX
};

void	log_init(const char *ident, bool foreground, int verbosity);
void	log_close(void);
void	log_msg(int prio, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Rate-limited: at most a burst, then a steady rate, per class. */
void	log_rl(enum log_class, int prio, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
bool	log_enabled(int prio);
/*
 * Take a token of the class's bucket: true when a line may be logged now.
 * Lets a caller skip formatting entirely while a flood is suppressed.
 */
bool	log_rl_take(enum log_class, int prio);

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif /* MIPHA_LOG_H */
