/* SPDX-License-Identifier: ISC */
/*
 * control.c: the control socket, where running services connect to
 * register a name at run time, and the unix sockets the parent listens
 * on. Anyone may connect to the control socket; what they may register is
 * the config's "register" rules, matched against the uid the kernel
 * reports. Each accepted connection becomes a channel in handoff.c.
 *
 * Every local user can reach this socket, so what it costs the root
 * parent is bounded: connections are capped in total and per peer uid,
 * accepting pauses (the listener leaves the loop) at the cap and when the
 * parent is out of descriptors, and what anyone can make happen at will
 * is logged at most once a second.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parent.h"
#include "wire.h"

#define CONTROL_MAX		1024	/* connections, at most */
#define CONTROL_MAX_UID		64	/* per peer uid */
#define CONTROL_PAUSE_NS	(1000ull * 1000000)	/* out of fds */
#define CONTROL_LOG_NS		(1000ull * 1000000)	/* a line at most */
#define REASON_TOO_MANY		"too many connections for your user"

struct user {
	uid_t		 uid;
	int		 n;
};

static struct {
	int		 fd;
	char		*path;
	struct src	 src;
	int		 watched;	/* the listener is in the loop */
	uint64_t	 resume_ns;	/* out of fds: accept again then */
	int		 max;		/* CONTROL_MAX, or less by RLIMIT */
	int		 nconn;
	struct user	 users[CONTROL_MAX];	/* nconn > 0 each */
	int		 nusers;
	uint64_t	 logged_ns;
	unsigned int	 unlogged;	/* refusals since that line */
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

/* Control connections may take a quarter of our descriptors at most:
 * clients in flight and programs' pipes need the rest. */
static int
control_max(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 < CONTROL_MAX)
		return rl.rlim_cur / 4 > 0 ? (int)(rl.rlim_cur / 4) : 1;
	return CONTROL_MAX;
}

/* Watch the listener exactly when we may accept on it. */
static void
control_update(void)
{
	int	want;

	want = c.fd != -1 && c.resume_ns == 0 && c.nconn < c.max;
	if (want == c.watched)
		return;
	if (want && parent_watch(c.fd, &c.src) == -1) {
		/* No room in epoll: as for EMFILE, try again later. */
		c.resume_ns = now_ns() + CONTROL_PAUSE_NS;
		return;
	}
	if (!want)
		parent_unwatch(c.fd);
	c.watched = want;
}

static struct user *
user_find(uid_t uid)
{
	int	i;

	for (i = 0; i < c.nusers; i++)
		if (c.users[i].uid == uid)
			return &c.users[i];
	return NULL;
}

/*
 * What a local user can make happen at will is logged once a second at
 * most; the line that is logged says how many it stands for.
 */
static int
control_log_due(unsigned int *held)
{
	uint64_t	now = now_ns();

	if (c.logged_ns != 0 && now - c.logged_ns < CONTROL_LOG_NS) {
		c.unlogged++;
		return 0;
	}
	*held = c.unlogged;
	c.logged_ns = now;
	c.unlogged = 0;
	return 1;
}

/*
 * Say why before closing: the REGISTERED that the REGISTER, queued or
 * still to come, would have had. A full socket just gets the close.
 */
static void
control_refuse(int fd, const char *why)
{
	struct wire_msg	m;
	uint8_t		buf[WIRE_MSG_MAX];
	size_t		len;

	memset(&m, 0, sizeof(m));
	m.type = WIRE_REGISTERED;
	m.status = 1;
	snprintf(m.reason, sizeof(m.reason), "%s", why);
	if ((len = wire_encode(buf, sizeof(buf), &m)) > 0)
		(void)send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	/* A REGISTER left unread would make the close a reset, which the
	 * peer may see before the answer: discard what came (unparsed). */
	(void)recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
	close(fd);
}

void
control_event(void)
{
	struct user	*u;
	unsigned int	 held;
	int		 fd, i;
	uid_t		 uid;

	for (i = 0; i < 16 && c.watched; i++) {
		fd = accept4(c.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Retrying at once would spin: pause. */
				log_warn("control: accept paused for 1s");
				c.resume_ns = now_ns() + CONTROL_PAUSE_NS;
				control_update();
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept control");
			return;
		}
		if (control_peer_uid(fd, &uid) == -1) {
			close(fd);
			continue;
		}
		if ((u = user_find(uid)) == NULL) {
			u = &c.users[c.nusers++];
			u->uid = uid;
			u->n = 0;
		}
		if (u->n >= CONTROL_MAX_UID) {
			control_refuse(fd, REASON_TOO_MANY);
			if (control_log_due(&held))
				log_warnx("control: a connection of uid %d "
				    "refused: %d per uid at most (and %u more "
				    "not logged)", (int)uid, CONTROL_MAX_UID,
				    held);
			continue;
		}
		if (handoff_adopt(fd, uid) == -1) {
			if (u->n == 0)
				*u = c.users[--c.nusers];
			continue;
		}
		u->n++;
		c.nconn++;
		if (c.nconn >= c.max && control_log_due(&held))
			log_warnx("control: %d connections, the most allowed: "
			    "not accepting until one ends (and %u more not "
			    "logged)", c.max, held);
		control_update();
	}
}

/* A control connection of uid's ended (handoff.c closed its channel). */
void
control_closed(uid_t uid)
{
	struct user	*u;

	if ((u = user_find(uid)) == NULL)
		return;
	c.nconn--;
	if (--u->n == 0)
		*u = c.users[--c.nusers];
	control_update();
}

/*
 * Is something listening at path? A stale socket refuses the connect; a
 * live one accepts it, has its queue full, or is of another type. Any
 * other answer counts as live: replacing it is not ours to decide.
 */
static int
path_live(const struct sockaddr_un *sun)
{
	int	fd, r, e;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return 1;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(fd);
	return r == 0 || (e != ECONNREFUSED && e != ENOENT);
}

/* The new image of an upgrade: the live sockets are our old image's. */
static int	takeover;

/* Does a running process other than our old image listen at path? */
int
control_path_live(const char *path)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (takeover || strlen(path) >= sizeof(sun.sun_path))
		return 0;
	memcpy(sun.sun_path, path, strlen(path));
	return path_live(&sun);
}

static int
path_sun(const char *what, const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		log_warnx("%s %s: path too long", what, path);
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

void
control_takeover(void)
{
	takeover = 1;
}

/* Is path free for us: nothing there, or a stale socket? Logs if not. */
static int
path_free(const char *what, const char *path, struct sockaddr_un *sun)
{
	struct stat	st;

	if (path_sun(what, path, sun) == -1)
		return -1;
	if (lstat(path, &st) == -1)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("%s %s: exists and is not a socket: not replaced",
		    what, path);
		return -1;
	}
	if (!takeover && path_live(sun)) {
		log_warnx("%s %s: a running process listens there (another "
		    "oneportd?): not replaced", what, path);
		return -1;
	}
	return 0;
}

/*
 * A listening SOCK_SEQPACKET socket at path, made with umask mask. A
 * socket already there is replaced only when stale. Returns the fd, or -1
 * after logging "what path: why".
 */
int
control_listen(const char *what, const char *path, mode_t mask,
    int backlog, int flags)
{
	return control_listen_type(what, path, mask, backlog,
	    SOCK_SEQPACKET | flags);
}

/* The same, of another type (the status socket's is SOCK_STREAM). */
int
control_listen_type(const char *what, const char *path, mode_t mask,
    int backlog, int type)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd;

	if (path_free(what, path, &sun) == -1)
		return -1;
	(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_CLOEXEC | type, 0);
	if (fd == -1) {
		log_warn("%s %s", what, path);
		return -1;
	}
	old = umask(mask);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, backlog) == -1) {
		umask(old);
		log_warn("%s %s", what, path);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

/*
 * At start-up, before anything is bound: every path we would replace is
 * free, or we refuse to start (returns -1, having said why).
 */
int
control_check(const struct config *cfg)
{
	const struct service	*svc;
	struct sockaddr_un	 sun;
	int			 i, ret = 0;

	if (cfg->control != NULL && path_free("control", cfg->control,
	    &sun) == -1)
		ret = -1;
	for (i = 0; i < cfg->nservices; i++) {
		svc = &cfg->services[i];
		if (svc->socket != NULL && svc->argv != NULL &&
		    path_free("socket", svc->socket, &sun) == -1)
			ret = -1;
	}
	return ret;
}

static void
control_close(void)
{
	if (c.fd != -1) {
		if (c.watched)
			parent_unwatch(c.fd);
		close(c.fd);
		unlink(c.path);
		c.fd = -1;
		c.watched = 0;
	}
	free(c.path);
	c.path = NULL;
}

/*
 * Open (or move, or close) the control socket as the config says. A move
 * that fails keeps the old socket. Connections made on the old one stay.
 */
void
control_configure(const struct config *cfg)
{
	char	*path;
	int	 fd;

	c.max = control_max();
	if (c.path != NULL && cfg->control != NULL &&
	    strcmp(c.path, cfg->control) == 0)
		return;
	if (cfg->control == NULL) {
		control_close();
		return;
	}
	if ((fd = control_listen("control", cfg->control, 0111, 64,
	    SOCK_NONBLOCK)) == -1) {
		if (c.path != NULL)
			log_warnx("control stays at %s", c.path);
		return;
	}
	if ((path = strdup(cfg->control)) == NULL) {
		log_warn("control %s", cfg->control);
		close(fd);
		unlink(cfg->control);
		return;
	}
	control_close();
	c.fd = fd;
	c.path = path;
	c.src.kind = SRC_CONTROL;
	c.src.ptr = NULL;
	control_update();
}

/* Out of descriptors a moment ago: try accepting again. */
void
control_tick(uint64_t now)
{
	if (c.resume_ns != 0 && c.resume_ns <= now) {
		c.resume_ns = 0;
		control_update();
	}
}

uint64_t
control_next_deadline(void)
{
	return c.resume_ns;
}

/* An upgrade: the path is the new image's socket now; ours just closes. */
void
control_detach(void)
{
	if (c.fd != -1) {
		close(c.fd);
		c.fd = -1;
		c.watched = 0;
	}
}

/* Stopping: the control socket goes. */
void
control_shutdown(void)
{
	if (c.fd != -1) {
		close(c.fd);
		unlink(c.path);
		c.fd = -1;
		c.watched = 0;
	}
}
