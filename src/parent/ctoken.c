/* SPDX-License-Identifier: ISC */
/*
 * ctoken.c: the tokens of cluster redirects. A host that sends a client
 * to another ("@PORT host=A token=T") mints T; the other host verifies it
 * on the client's first line without asking anyone: both hold the
 * cluster key (a root-only file). T is
 *
 *	NAME "_" base64url(expiry[4] nonce[4] mac[16])
 *
 * where expiry is big-endian Unix seconds, and mac the first 16 bytes of
 * HMAC-SHA256(key, "oneport-token-v1" 0 CLUSTER 0 NAME 0 ADDR[16] expiry
 * nonce), ADDR the client's IPv6 address (IPv4 mapped). "_" is in no
 * service name, so the frontend tells a token line from a name. A token
 * serves once: the verifier remembers the used ones until they expire.
 * Hosts' clocks must agree to well within CTOKEN_LIFE_S.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "parent.h"

#define KEY_MIN		16
#define KEY_MAX		256
#define USED_MAX	65536	/* unexpired tokens remembered */
#define RAW_LEN		24
#define MAC_LEN		16

struct used {
	uint8_t		 mac[MAC_LEN];
	uint32_t	 expiry;
};

static struct {
	uint8_t		 key[KEY_MAX];
	size_t		 keylen;
	char		 cluster[CLUSTER_NAME_MAX + 1];
	struct used	*used;		/* a ring, oldest first */
	size_t		 head, n;
} t;

/*
 * The key file: a regular file of root's (when we are root) that no one
 * else may read or write, 16 to 256 bytes. -1 with the reason logged.
 */
int
ctoken_load(const char *path, const char *cluster)
{
	struct stat	st;
	ssize_t		n;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		log_warn("cluster key %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("cluster key %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (geteuid() == 0 && (st.st_uid != 0 || (st.st_mode & 077) != 0)) {
		log_warnx("cluster key %s: must be root's and mode 0600 or "
		    "0400", path);
		close(fd);
		return -1;
	}
	n = read(fd, t.key, sizeof(t.key));
	close(fd);
	if (n < KEY_MIN || n == KEY_MAX) {
		log_warnx("cluster key %s: %d to %d bytes", path, KEY_MIN,
		    KEY_MAX - 1);
		return -1;
	}
	t.keylen = n;
	snprintf(t.cluster, sizeof(t.cluster), "%s", cluster);
	if (t.used == NULL && (t.used = calloc(USED_MAX,
	    sizeof(*t.used))) == NULL) {
		log_warn("cluster tokens");
		return -1;
	}
	return 0;
}

static void
addr16(const struct sockaddr *sa, uint8_t a[16])
{
	const struct sockaddr_in	*sin = (const void *)sa;
	const struct sockaddr_in6	*sin6 = (const void *)sa;

	memset(a, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(a, &sin6->sin6_addr, 16);
		return;
	}
	a[10] = a[11] = 0xff;
	memcpy(a + 12, &sin->sin_addr, 4);
}

static int
mac(const char *name, const struct sockaddr *client, const uint8_t *en,
    uint8_t out[MAC_LEN])
{
	static const char	 label[] = "oneport-token-v1";
	uint8_t			 msg[sizeof(label) + CLUSTER_NAME_MAX + 1 +
				    SERVICE_NAME_MAX + 1 + 16 + 8];
	uint8_t			 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	size_t			 n = 0, l;

	memcpy(msg, label, sizeof(label));
	n = sizeof(label);
	l = strlen(t.cluster) + 1;
	memcpy(msg + n, t.cluster, l);
	n += l;
	l = strlen(name) + 1;
	memcpy(msg + n, name, l);
	n += l;
	addr16(client, msg + n);
	n += 16;
	memcpy(msg + n, en, 8);
	n += 8;
	if (HMAC(EVP_sha256(), t.key, (int)t.keylen, msg, n, md, &mdlen) ==
	    NULL || mdlen < MAC_LEN)
		return -1;
	memcpy(out, md, MAC_LEN);
	return 0;
}

/* base64url without padding: RAW_LEN bytes are 32 characters. */
static void
b64url(const uint8_t *raw, char *out, size_t cap)
{
	size_t	i;

	b64_encode(raw, RAW_LEN, out, cap);
	for (i = 0; out[i] != '\0'; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
}

int
ctoken_mint(const char *name, const struct sockaddr *client, char *out,
    size_t cap)
{
	uint8_t		raw[RAW_LEN];
	uint32_t	e = htonl((uint32_t)time(NULL) + CTOKEN_LIFE_S);
	char		enc[48];
	int		n;

	if (t.keylen == 0)
		return -1;
	memcpy(raw, &e, 4);
	if (getrandom(raw + 4, 4, 0) != 4 || mac(name, client, raw,
	    raw + 8) == -1)
		return -1;
	b64url(raw, enc, sizeof(enc));
	n = snprintf(out, cap, "%s_%s", name, enc);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Forgets what has expired; the ring is in expiry order (one lifetime). */
static void
used_expire(uint32_t now)
{
	while (t.n > 0 && t.used[t.head].expiry < now) {
		t.head = (t.head + 1) % USED_MAX;
		t.n--;
	}
}

/*
 * A token line's token for name from client: 0, or -1 with the reason
 * the client is told. A token that verifies is used up.
 */
int
ctoken_verify(const char *name, const char *token,
    const struct sockaddr *client, const char **reason)
{
	uint8_t		 raw[RAW_LEN + 2], m[MAC_LEN];
	char		 b[48];
	const char	*p;
	uint32_t	 e, now = (uint32_t)time(NULL);
	size_t		 i, n;

	*reason = "bad token";
	if (t.keylen == 0)
		return -1;
	n = strlen(name);
	if (strncmp(token, name, n) != 0 || token[n] != '_' ||
	    strlen(p = token + n + 1) != 32)
		return -1;
	for (i = 0; i < 32; i++)
		b[i] = p[i] == '-' ? '+' : p[i] == '_' ? '/' : p[i];
	if (b64_decode(b, 32, raw, sizeof(raw)) != RAW_LEN ||
	    mac(name, client, raw, m) == -1 ||
	    CRYPTO_memcmp(m, raw + 8, MAC_LEN) != 0)
		return -1;
	memcpy(&e, raw, 4);
	e = ntohl(e);
	if (e < now) {
		*reason = "token expired";
		return -1;
	}
	/* From a clock far ahead: it would hold the ring's head. */
	if (e > now + 2 * CTOKEN_LIFE_S)
		return -1;
	used_expire(now);
	for (i = 0; i < t.n; i++)
		if (memcmp(t.used[(t.head + i) % USED_MAX].mac, m,
		    MAC_LEN) == 0) {
			*reason = "token used";
			return -1;
		}
	if (t.n == USED_MAX) {
		*reason = "busy";
		return -1;
	}
	memcpy(t.used[(t.head + t.n) % USED_MAX].mac, m, MAC_LEN);
	t.used[(t.head + t.n) % USED_MAX].expiry = e;
	t.n++;
	return 0;
}
