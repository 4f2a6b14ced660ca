/* Stand-in for libjwt's base64.h, which Debian's libjwt source leaves out
 * (.ci/spack-site.sh adds this pair to that source for the offline CI site).
 * The two functions libjwt calls, with its signatures. */
#ifndef JWT_BASE64_H
#define JWT_BASE64_H

/* Writes the base64 of src[0..len) and a NUL to dst; returns its length. */
int jwt_Base64encode(char *dst, const char *src, int len);

/* Decodes the NUL-terminated base64 src into dst; returns the bytes written,
 * or 0 if src is not base64. */
int jwt_Base64decode(char *dst, const char *src);

#endif
