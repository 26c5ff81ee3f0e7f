/*
 * control.c: the control socket, where running services connect to
 * register a name at run time. Anyone may connect; what they may register
 * is the config's "register" rules, matched against the uid the kernel
 * reports. Each accepted connection becomes a channel in handoff.c.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oneportd.h"

static struct {
	int		 fd;
	char		*path;
	struct src	 src;
} c = { .fd = -1 };

/* The uid the kernel reports for a unix socket's peer. */
int
control_peer_uid(int fd, uid_t *uid)
{
	struct ucred	cr;
	socklen_t	len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return -1;
	*uid = cr.uid;
	return 0;
}

void
control_event(void)
{
	int	fd, i;
	uid_t	uid;

	for (i = 0; i < 16; i++) {
		fd = accept4(c.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept control");
			return;
		}
		if (control_peer_uid(fd, &uid) == -1) {
			close(fd);
			continue;
		}
		handoff_adopt(fd, uid);
	}
}

static void
control_close(void)
{
	if (c.fd != -1) {
		parent_unwatch(c.fd);
		close(c.fd);
		unlink(c.path);
		c.fd = -1;
	}
	free(c.path);
	c.path = NULL;
}

/* Open (or move, or close) the control socket as the config says. */
void
control_configure(const struct config *cfg)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 fd;

	if (c.path != NULL && cfg->control != NULL &&
	    strcmp(c.path, cfg->control) == 0)
		return;
	control_close();
	if (cfg->control == NULL)
		return;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cfg->control) >= sizeof(sun.sun_path)) {
		log_warnx("control %s: path too long", cfg->control);
		return;
	}
	memcpy(sun.sun_path, cfg->control, strlen(cfg->control));
	/* Replace a stale socket, never anything else. */
	if (lstat(cfg->control, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(cfg->control);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		fatal("socket");
	old = umask(0111);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 64) == -1) {
		umask(old);
		log_warn("control %s", cfg->control);
		close(fd);
		return;
	}
	umask(old);
	c.fd = fd;
	if ((c.path = strdup(cfg->control)) == NULL)
		fatal("strdup");
	c.src.kind = SRC_CONTROL;
	c.src.ptr = NULL;
	parent_watch(fd, &c.src);
}

/* Stopping: the control socket goes. */
void
control_shutdown(void)
{
	if (c.fd != -1) {
		close(c.fd);
		unlink(c.path);
		c.fd = -1;
	}
}
