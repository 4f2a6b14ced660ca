/* Stand-in for libjwt's base64.c (see base64.h): RFC 4648 base64 with padding. */
#include <string.h>

#include "base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int jwt_Base64encode(char *dst, const char *src, int len)
{
	const unsigned char *in = (const unsigned char *)src;
	char *out = dst;
	int i;

	for (i = 0; i + 2 < len; i += 3) {
		*out++ = alphabet[in[i] >> 2];
		*out++ = alphabet[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
		*out++ = alphabet[((in[i + 1] & 0x0f) << 2) | (in[i + 2] >> 6)];
		*out++ = alphabet[in[i + 2] & 0x3f];
	}
	if (i < len) {
		*out++ = alphabet[in[i] >> 2];
		if (i + 1 < len) {
			*out++ = alphabet[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
			*out++ = alphabet[(in[i + 1] & 0x0f) << 2];
		} else {
			*out++ = alphabet[(in[i] & 0x03) << 4];
			*out++ = '=';
		}
		*out++ = '=';
	}
	*out = '\0';
	return (int)(out - dst);
}

static int value_of(char c)
{
	const char *at = c ? strchr(alphabet, c) : NULL;

	return at ? (int)(at - alphabet) : -1;
}

int jwt_Base64decode(char *dst, const char *src)
{
	unsigned char *out = (unsigned char *)dst;
	size_t len = strlen(src), i;
	int v[4], k;

	if (len % 4)
		return 0;
	for (i = 0; i < len; i += 4) {
		for (k = 0; k < 4; k++) {
			v[k] = src[i + k] == '=' ? 0 : value_of(src[i + k]);
			if (v[k] < 0)
				return 0;
		}
		*out++ = (unsigned char)((v[0] << 2) | (v[1] >> 4));
		if (src[i + 2] != '=')
			*out++ = (unsigned char)((v[1] << 4) | (v[2] >> 2));
		if (src[i + 3] != '=')
			*out++ = (unsigned char)((v[2] << 6) | v[3]);
	}
	return (int)(out - (unsigned char *)dst);
}
