/* SPDX-License-Identifier: ISC */
/*
 * proxyout.c: the PROXY protocol header (haproxy's proxy-protocol.txt,
 * versions 1 and 2) that the relay writes to a backend before the
 * client's bytes. Pure: no I/O, no globals, no allocation.
 */
#ifndef PROXYOUT_H
#define PROXYOUT_H

#include <stddef.h>
#include <stdint.h>

#define PROXYOUT_MAX	640	/* the longest v2 header we build */
#define PP2_TYPE_ALPN		0x01
#define PP2_TYPE_AUTHORITY	0x02

struct sockaddr;
size_t	proxyout_v1(uint8_t *buf, size_t cap, const struct sockaddr *src,
	    const struct sockaddr *dst);
size_t	proxyout_v2(uint8_t *buf, size_t cap, const struct sockaddr *src,
	    const struct sockaddr *dst, const char *authority,
	    const char *alpn);

#endif
