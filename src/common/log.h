/* SPDX-License-Identifier: ISC */
/* log.c: syslog, stderr in -d mode, or a sink (the frontend's). */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

/* log.c */
void	log_init(int debug, const char *ident);
void	log_set_sink(void (*)(int pri, const char *msg));
void	log_timestamps(int on);
const char *log_quote(const char *value);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_msg(int pri, const char *msg);
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
extern int log_verbose;

#endif
