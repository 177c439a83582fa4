/* util.c: clocks, ids, files, paths. */
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

int64_t dtf_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t dtf_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dtf_rfc3339(int64_t wall_ms, char out[32])
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	char base[24];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", base, (int)(wall_ms % 1000));
}

int dtf_parse_rfc3339(const char *s, int64_t *wall_ms)
{
	struct tm tm;
	const char *p;
	int ms = 0;
	long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return DTF_EPARSE;
	if (*p == '.') {
		int digits = 0;
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return DTF_EPARSE;
		while (*p >= '0' && *p <= '9') {
			if (digits < 3) {
				ms = ms * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		while (digits++ < 3)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		const char *o = p + 1;
		int hh, mm;
		/* Exactly HH:MM. */
		if (!(o[0] >= '0' && o[0] <= '9' && o[1] >= '0' && o[1] <= '9' && o[2] == ':' &&
		      o[3] >= '0' && o[3] <= '9' && o[4] >= '0' && o[4] <= '9'))
			return DTF_EPARSE;
		hh = (o[0] - '0') * 10 + (o[1] - '0');
		mm = (o[3] - '0') * 10 + (o[4] - '0');
		if (hh > 23 || mm > 59)
			return DTF_EPARSE;
		off = (hh * 3600L + mm * 60L) * (*p == '+' ? 1 : -1);
		p = o + 5;
	} else {
		return DTF_EPARSE;
	}
	if (*p)
		return DTF_EPARSE;
	t = timegm(&tm);
	*wall_ms = ((int64_t)t - off) * 1000 + ms;
	return 0;
}

void dtf_id_new(const char *prefix, char *out, size_t outlen)
{
	unsigned char r[8];
	size_t i, n;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		uint64_t x =
		    (uint64_t)dtf_wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out;
		memcpy(r, &x, sizeof(r));
	}
	n = (size_t)snprintf(out, outlen, "%s", prefix);
	for (i = 0; i < sizeof(r) && n + 2 < outlen; i++, n += 2)
		snprintf(out + n, outlen - n, "%02x", r[i]);
}

int dtf_read_head(const char *path, size_t max, char **out, size_t *len, bool *cut)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	*out = NULL;
	*len = 0;
	if (cut)
		*cut = false;
	if (!f)
		return DTF_ENOTFOUND;
	buf = malloc(max + 2);
	if (!buf) {
		fclose(f);
		return DTF_ENOMEM;
	}
	*len = fread(buf, 1, max + 1, f);
	fclose(f);
	if (*len > max) {
		*len = max;
		if (cut)
			*cut = true;
	}
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

int dtf_read_file(const char *path, size_t cap, char **out, size_t *len)
{
	int fd, rc = 0;
	struct stat st;
	char *data = NULL;
	size_t n = 0, alloc;
	ssize_t got;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? DTF_ENOTFOUND : DTF_EIO;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > cap) {
		rc = DTF_ETOOBIG;
		goto out;
	}
	alloc = 4096;
	data = malloc(alloc);
	if (!data) {
		rc = DTF_ENOMEM;
		goto out;
	}
	for (;;) {
		if (n + 1 >= alloc) {
			char *p;
			if (alloc > cap + 1) {
				rc = DTF_ETOOBIG;
				goto out;
			}
			p = realloc(data, alloc * 2);
			if (!p) {
				rc = DTF_ENOMEM;
				goto out;
			}
			data = p;
			alloc *= 2;
		}
		got = read(fd, data + n, alloc - n - 1);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = DTF_EIO;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > cap) {
			rc = DTF_ETOOBIG;
			goto out;
		}
	}
	data[n] = '\0';
	*out = data;
	data = NULL;
	if (len)
		*len = n;
out:
	free(data);
	close(fd);
	return rc;
}

int dtf_write_file(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	int fd, rc = 0;
	const char *p = data;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return DTF_EINVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return DTF_EIO;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = DTF_EIO;
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	if (!rc && fsync(fd) != 0)
		rc = DTF_EIO;
	if (close(fd) != 0 && !rc)
		rc = DTF_EIO;
	if (!rc && rename(tmp, path) != 0)
		rc = DTF_EIO;
	if (rc)
		unlink(tmp);
	return rc;
}

int dtf_mkdirs(const char *path, unsigned mode)
{
	char tmp[4096];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return DTF_EINVAL;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];
			tmp[i] = '\0';
			if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
				return DTF_EIO;
			tmp[i] = c;
		}
	}
	return 0;
}

bool dtf_file_private_ok(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return false;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
			 "%s holds a secret but its group or others may read it (mode %03o): "
			 "chmod 600 %s",
			 path, (unsigned)(st.st_mode & 0777), path);
		return false;
	}
	return true;
}

bool dtf_secret_eq(const char *got, const char *want)
{
	size_t n, m, i;
	unsigned char d;

	if (!got || !want)
		return false;
	n = strlen(got);
	m = strlen(want);
	d = n != m;
	/* Every byte of got is looked at, against want's bytes in turn, whatever matched. */
	for (i = 0; i < n; i++)
		d |= (unsigned char)(got[i] ^ (m ? want[i % m] : 0));
	return d == 0;
}

char *dtf_mask_secret(const char *secret, char *out, size_t outlen)
{
	size_t n = secret ? strlen(secret) : 0;

	if (outlen == 0)
		return out;
	out[0] = '\0';
	if (n == 0)
		return out;
	if (n <= 8)
		snprintf(out, outlen, "\u2026");
	else
		snprintf(out, outlen, "\u2026%s", secret + n - 4);
	return out;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int dtf_rmtree(const char *path)
{
	if (access(path, F_OK) != 0)
		return 0;
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : DTF_EIO;
}

bool dtf_valid_id(const char *s)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= 64)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int dtf_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	/* Plain decimal numbers only: no sign, hex, "nan" or "inf". */
	if (!((*s >= '0' && *s <= '9') || *s == '.'))
		return DTF_EPARSE;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0) || v > 1e9)
		return DTF_EPARSE;
	if (strpbrk(s, "xXpP"))
		return DTF_EPARSE;
	if (*end == 's' || *end == '\0')
		;
	else if (*end == 'm')
		v *= 60;
	else if (*end == 'h')
		v *= 3600;
	else
		return DTF_EPARSE;
	if (*end && end[1])
		return DTF_EPARSE;
	*out = v;
	return 0;
}

const char *dtf_self_exe(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n <= 0)
		return "dtf";
	path[n] = '\0';
	return path;
}
