/*
 * post_bench - single-threaded epoll load generator for the guardrails benchmark (issue 5) and
 * the sidecar benchmark (issue 6): HTTP/1.1 keep-alive POSTs of a fixed body over TLS, optionally
 * inside an HTTP CONNECT tunnel through a forward proxy (the way an AI SDK behind HTTPS_PROXY
 * talks to its API), or over plain HTTP straight to a server (-P: an agent calling its sidecar or
 * a tool endpoint).
 *
 *   post_bench -t 127.0.0.1:8443 [-x 127.0.0.1:3128] [-a origin.test:8443] -C ca.pem
 *              [-n origin.test] [-p /v1/chat/completions] -b body.json [-c 50] [-d 10] [-T 5]
 *   post_bench -P -t 127.0.0.1:8081 -p /proxy/v1/tools/python_exec -b envelope.json
 *              [-H 'X-Proxy-Token: secret'] [-S @CONN@] [-c 50] [-d 10] [-T 5]
 *
 *   -t HOST:PORT  where to connect without a proxy (IPv4 literal); default CONNECT authority
 *   -x HOST:PORT  forward proxy (IPv4 literal): each connection sends CONNECT first (not with -P)
 *   -a AUTHORITY  CONNECT authority and Host header (default: the -t value)
 *   -n NAME       TLS SNI and the certificate name verified (default: host part of -a)
 *   -C FILE       CA bundle the server certificate must chain to (required unless -P: TLS is
 *                 always verified)
 *   -P            plain HTTP/1.1 to -t, no TLS, no CONNECT (origin-form requests)
 *   -p PATH       request path (default /v1/chat/completions)
 *   -b FILE       request body, sent as Content-Type: application/json (at most 16 MiB)
 *   -H 'N: V'     one more request header (repeatable, up to 16)
 *   -S TOKEN      every TOKEN in the body is replaced by the connection's number (0..N-1), so
 *                 each connection sends its own body (e.g. "session_id":"bench-@CONN@")
 *   -c N          connections (1..10000, default 50)
 *   -d SEC        duration (1..600, default 10): the run always stops by itself
 *   -T SEC        per-request timeout (1..60, default 5): a slower answer is an error
 *
 * One request in flight per connection; latency is from the first byte of a request written to
 * the last byte of its response read. A connection that fails is counted as an error and
 * replaced, at most 100 times per connection over the run. Prints one line:
 *   RESULT requests= rps= p50_us= p90_us= p99_us= max_us= errors= non2xx= conns= ...
 * and, on stderr, the first error seen (if any). Exit status 0 when it ran (errors included),
 * 2 on bad usage or set-up failure.
 *
 * Build: cc -O2 -Wall -Wextra -o post_bench post_bench.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_CAP (256 * 1024)  /* largest response head + body held at once */
#define MAX_BODY (16 * 1024 * 1024)
#define MAX_LAT_SAMPLES (64u * 1024 * 1024)
#define MAX_RESTARTS_PER_CONN 100
#define IO_ROUNDS 64           /* reads/writes per wake-up, then back to epoll */

enum state { S_IDLE, S_CONNECTING, S_CONNECT_W, S_CONNECT_R, S_HANDSHAKE, S_REQ_W, S_RESP_R };
enum body_mode { B_NONE, B_LENGTH, B_CHUNKED, B_EOF };
enum chunk_state { C_SIZE, C_DATA, C_DATA_END, C_TRAILER };

struct conn {
    int fd;
    enum state st;
    uint32_t events;        /* current epoll interest */
    SSL *ssl;
    uint64_t t_req;         /* request start, us */
    uint64_t deadline;      /* current step must finish by then, us */
    size_t wpos;            /* bytes of the current write done */
    char *rbuf; size_t rlen;
    /* response parsing */
    int head_done, status, close_after;
    enum body_mode bmode;
    uint64_t body_left;
    enum chunk_state cst;
    size_t parsed;          /* bytes of rbuf consumed by the body parser */
    int restarts;
    const char *req; size_t req_len;   /* this connection's request (head + body) */
    uint32_t idx, gen;      /* epoll data: idx | gen << 32, so a stale event finds no match */
};

static struct sockaddr_in target_addr, proxy_addr;
static int use_proxy, plain;
static const char *target_str, *proxy_str, *authority, *sni, *cafile;
static const char *path = "/v1/chat/completions", *body_file;
static int nconns = 50, duration_s = 10, timeout_s = 5;
static SSL_CTX *ctx;
static int ep = -1;
static struct conn *conns;
static char *req; static size_t req_len;   /* the request when every connection sends the same */
#define MAX_EXTRA_HEADERS 16
static const char *extra_headers[MAX_EXTRA_HEADERS]; static int n_extra_headers;
static const char *subst_token;
static char connect_req[600]; static size_t connect_len;
static uint64_t t0, t_stop;
static uint32_t *lat; static size_t nlat, lat_cap;
static long long n_req, n_non2xx, n_err, n_conns_ok, n_timeouts;
static unsigned long long bytes_in;
static char first_error[256];

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void usage(void) {
    fprintf(stderr, "usage: post_bench -t HOST:PORT [-x HOST:PORT] [-a AUTHORITY] [-n SNI] -C CA "
                    "[-p PATH] -b BODY [-H 'NAME: VALUE']... [-S TOKEN] [-c N] [-d SEC] [-T SEC]\n"
                    "       post_bench -P -t HOST:PORT [-a AUTHORITY] [-p PATH] -b BODY "
                    "[-H 'NAME: VALUE']... [-S TOKEN] [-c N] [-d SEC] [-T SEC]\n");
    exit(2);
}

static int parse_addr(const char *s, struct sockaddr_in *a) {
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535) return -1;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return -1;
    /* loopback only: this tool must never load anything but the local benchmark */
    if ((ntohl(a->sin_addr.s_addr) >> 24) != 127) return -1;
    return 0;
}

static int bounded_int(const char *s, int lo, int hi) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) usage();
    return (int)v;
}

static void note_error(const char *fmt, ...) {
    if (first_error[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(first_error, sizeof first_error, fmt, ap);
    va_end(ap);
}

/* ---------- epoll ---------- */
static void want(struct conn *c, uint32_t ev) {
    if (c->events == ev) return;
    struct epoll_event e = {.events = ev, .data.u64 = c->idx | (uint64_t)c->gen << 32};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) == 0) c->events = ev;
}

/* ---------- connection life ---------- */
static void start_conn(struct conn *c);

static void close_conn(struct conn *c) {
    if (c->ssl) { SSL_free(c->ssl); c->ssl = NULL; }  /* no close_notify: a benchmark drop */
    if (c->fd >= 0) { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); }
    c->fd = -1;
    c->st = S_IDLE;
    c->events = 0;
}

static void fail(struct conn *c, const char *what) {
    n_err++;
    note_error("%s", what);
    close_conn(c);
    if (now_us() < t_stop && c->restarts < MAX_RESTARTS_PER_CONN) {
        c->restarts++;
        start_conn(c);
    }
}

static void start_conn(struct conn *c) {
    c->rlen = 0; c->wpos = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { n_err++; note_error("socket: %s", strerror(errno)); return; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->gen++;
    struct epoll_event e = {.events = EPOLLOUT, .data.u64 = c->idx | (uint64_t)c->gen << 32};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e) < 0) { close(c->fd); c->fd = -1; n_err++; return; }
    c->events = EPOLLOUT;
    c->st = S_CONNECTING;
    c->deadline = now_us() + (uint64_t)timeout_s * 1000000u;
    const struct sockaddr_in *a = use_proxy ? &proxy_addr : &target_addr;
    if (connect(c->fd, (const struct sockaddr *)a, sizeof *a) < 0 && errno != EINPROGRESS)
        fail(c, "connect failed");
}

static int begin_tls(struct conn *c) {
    c->ssl = SSL_new(ctx);
    if (!c->ssl) return -1;
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, sni);
    if (SSL_set1_host(c->ssl, sni) != 1) return -1;
    SSL_set_connect_state(c->ssl);
    c->st = S_HANDSHAKE;
    c->deadline = now_us() + (uint64_t)timeout_s * 1000000u;
    return 0;
}

/* One write or read on the connection, TLS or plain (-P). > 0: bytes moved; IO_AGAIN: nothing
 * now, the epoll interest it needs is set; IO_EOF (reads): the peer closed; IO_ERR: failed. */
#define IO_EOF 0
#define IO_AGAIN (-1)
#define IO_ERR (-2)
static int conn_write(struct conn *c, const char *b, size_t n) {
    if (plain) {
        ssize_t r = send(c->fd, b, n, MSG_NOSIGNAL);
        if (r > 0) return (int)r;
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) { want(c, EPOLLOUT); return IO_AGAIN; }
        return IO_ERR;
    }
    int r = SSL_write(c->ssl, b, (int)n);
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_WRITE) { want(c, EPOLLOUT); return IO_AGAIN; }
    if (e == SSL_ERROR_WANT_READ) { want(c, EPOLLIN); return IO_AGAIN; }
    ERR_clear_error();
    return IO_ERR;
}
static int conn_read(struct conn *c, char *b, size_t n) {
    if (plain) {
        ssize_t r = recv(c->fd, b, n, 0);
        if (r > 0) return (int)r;
        if (r == 0) return IO_EOF;
        if (errno == EAGAIN || errno == EINTR) { want(c, EPOLLIN); return IO_AGAIN; }
        return IO_ERR;
    }
    int r = SSL_read(c->ssl, b, (int)n);
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) { want(c, EPOLLIN); return IO_AGAIN; }
    if (e == SSL_ERROR_WANT_WRITE) { want(c, EPOLLOUT); return IO_AGAIN; }
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN ? IO_EOF : IO_ERR;
}

static void begin_request(struct conn *c) {
    c->st = S_REQ_W;
    c->wpos = 0;
    c->rlen = 0;
    c->head_done = 0; c->status = 0; c->close_after = 0;
    c->bmode = B_NONE; c->body_left = 0; c->cst = C_SIZE; c->parsed = 0;
    c->t_req = now_us();
    c->deadline = c->t_req + (uint64_t)timeout_s * 1000000u;
}

/* ---------- response parsing ---------- */
/* Case-insensitive search for header NAME in the head [h, h+n); value into out. */
static int header_value(const char *h, size_t n, const char *name, char *out, size_t outcap) {
    size_t nl = strlen(name);
    const char *p = memchr(h, '\n', n);   /* skip the status line */
    const char *end = h + n;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            size_t vl = (size_t)(ve - v);
            if (vl >= outcap) vl = outcap - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return 1;
        }
        p = eol;
    }
    return 0;
}

/* Parse what is buffered. Returns 1 when the response is complete, 0 when more is needed,
 * -1 on a malformed response. */
static int parse_response(struct conn *c) {
    if (!c->head_done) {
        char *e = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
        if (!e) return c->rlen >= 65536 ? -1 : 0;
        size_t hl = (size_t)(e - c->rbuf) + 4;
        if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.", 7) != 0) return -1;
        c->status = atoi(c->rbuf + 9);
        if (c->status < 100 || c->status > 599) return -1;
        char v[64];
        if (header_value(c->rbuf, hl, "connection", v, sizeof v) && strcasecmp(v, "close") == 0)
            c->close_after = 1;
        if (header_value(c->rbuf, hl, "transfer-encoding", v, sizeof v) && strcasestr(v, "chunked")) {
            c->bmode = B_CHUNKED;
        } else if (header_value(c->rbuf, hl, "content-length", v, sizeof v)) {
            char *end;
            unsigned long long n = strtoull(v, &end, 10);
            if (*end || n > (1ull << 40)) return -1;
            c->bmode = B_LENGTH; c->body_left = n;
        } else if (c->status == 204 || c->status == 304 || c->status < 200) {
            c->bmode = B_NONE;
        } else {
            c->bmode = B_EOF; c->close_after = 1;
        }
        c->head_done = 1;
        c->parsed = hl;
    }
    /* body: consume from parsed; everything consumed is dropped at the end */
    for (int guard = 0; guard < 1000000; guard++) {
        size_t avail = c->rlen - c->parsed;
        switch (c->bmode) {
        case B_NONE:
            return avail == 0 ? 1 : -1;
        case B_EOF:
            c->parsed = c->rlen;
            return 0;
        case B_LENGTH:
            if (avail >= c->body_left) {
                if (avail > c->body_left) return -1;  /* bytes after the answer: not pipelined */
                c->parsed += c->body_left; c->body_left = 0;
                return 1;
            }
            c->body_left -= avail; c->parsed = c->rlen;
            return 0;
        case B_CHUNKED: {
            char *p = c->rbuf + c->parsed;
            if (c->cst == C_SIZE || c->cst == C_DATA_END || c->cst == C_TRAILER) {
                char *nl = memchr(p, '\n', avail);
                if (!nl) return avail > 4096 ? -1 : 0;
                size_t ll = (size_t)(nl - p) + 1;
                if (c->cst == C_SIZE) {
                    char *end;
                    unsigned long long n = strtoull(p, &end, 16);
                    if (end == p || n > (1ull << 40)) return -1;
                    c->parsed += ll;
                    if (n == 0) { c->cst = C_TRAILER; }
                    else { c->cst = C_DATA; c->body_left = n; }
                } else if (c->cst == C_DATA_END) {
                    if (ll > 2 || (ll == 2 && p[0] != '\r')) return -1;
                    c->parsed += ll; c->cst = C_SIZE;
                } else {  /* trailer lines until an empty one */
                    c->parsed += ll;
                    if (ll <= 2) return c->parsed == c->rlen ? 1 : -1;
                }
                break;
            }
            /* C_DATA */
            if (avail == 0) return 0;
            size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
            c->parsed += take; c->body_left -= take;
            if (c->body_left == 0) c->cst = C_DATA_END;
            break;
        }
        }
    }
    return -1;
}

/* Drop consumed body bytes so a large response does not fill rbuf (the head stays parsed). */
static void compact(struct conn *c) {
    if (c->head_done && c->parsed > 0 && c->parsed <= c->rlen) {
        memmove(c->rbuf, c->rbuf + c->parsed, c->rlen - c->parsed);
        c->rlen -= c->parsed;
        c->parsed = 0;
    }
}

static void record_latency(uint64_t us) {
    if (nlat == lat_cap) {
        if (lat_cap >= MAX_LAT_SAMPLES) return;
        size_t nc = lat_cap ? lat_cap * 2 : 65536;
        uint32_t *n = realloc(lat, nc * sizeof *n);
        if (!n) return;
        lat = n; lat_cap = nc;
    }
    lat[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* ---------- the state machine ---------- */
static void drive(struct conn *c) {
    for (int round = 0; round < IO_ROUNDS && c->fd >= 0; round++) {
        switch (c->st) {
        case S_IDLE:
            return;
        case S_CONNECTING: {
            int err = 0; socklen_t el = sizeof err;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
                fail(c, "TCP connect refused"); return;
            }
            c->wpos = 0;
            if (use_proxy) { c->st = S_CONNECT_W; }
            else if (plain) { n_conns_ok++; begin_request(c); }
            else if (begin_tls(c) < 0) { fail(c, "SSL_new failed"); return; }
            break;
        }
        case S_CONNECT_W: {
            ssize_t n = send(c->fd, connect_req + c->wpos, connect_len - c->wpos, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN) { want(c, EPOLLOUT); return; }
                fail(c, "CONNECT write failed"); return;
            }
            c->wpos += (size_t)n;
            if (c->wpos == connect_len) { c->st = S_CONNECT_R; c->rlen = 0; }
            break;
        }
        case S_CONNECT_R: {
            /* Read byte counts up to the end of the proxy's answer; the proxy sends nothing
             * after it until our ClientHello, so a read never takes TLS bytes. */
            ssize_t n = recv(c->fd, c->rbuf + c->rlen, 4096 - c->rlen, 0);
            if (n < 0) {
                if (errno == EAGAIN) { want(c, EPOLLIN); return; }
                fail(c, "CONNECT answer read failed"); return;
            }
            if (n == 0) { fail(c, "proxy closed after CONNECT"); return; }
            c->rlen += (size_t)n;
            char *e = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
            if (!e) {
                if (c->rlen >= 4096) { fail(c, "CONNECT answer too long"); return; }
                break;
            }
            if ((size_t)(e - c->rbuf) + 4 != c->rlen) { fail(c, "bytes after the CONNECT answer"); return; }
            if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.", 7) != 0 || atoi(c->rbuf + 9) != 200) {
                char line[80];
                size_t l = strcspn(c->rbuf, "\r\n");
                if (l >= sizeof line) l = sizeof line - 1;
                memcpy(line, c->rbuf, l); line[l] = 0;
                n_err++; note_error("CONNECT refused: %s", line);
                close_conn(c);   /* a refusal is not retried: it would only repeat */
                return;
            }
            c->rlen = 0;
            if (begin_tls(c) < 0) { fail(c, "SSL_new failed"); return; }
            break;
        }
        case S_HANDSHAKE: {
            int r = SSL_do_handshake(c->ssl);
            if (r == 1) {
                n_conns_ok++;
                begin_request(c);
                break;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) { want(c, EPOLLIN); return; }
            if (e == SSL_ERROR_WANT_WRITE) { want(c, EPOLLOUT); return; }
            char buf[160];
            long vr = SSL_get_verify_result(c->ssl);
            if (vr != X509_V_OK)
                snprintf(buf, sizeof buf, "TLS handshake: certificate not verified: %s",
                         X509_verify_cert_error_string(vr));
            else
                snprintf(buf, sizeof buf, "TLS handshake failed: %s",
                         ERR_reason_error_string(ERR_peek_last_error()) ?: "connection closed");
            ERR_clear_error();
            fail(c, buf);
            return;
        }
        case S_REQ_W: {
            int n = conn_write(c, c->req + c->wpos, c->req_len - c->wpos);
            if (n == IO_AGAIN) return;
            if (n <= 0) { fail(c, "request write failed"); return; }
            c->wpos += (size_t)n;
            if (c->wpos == c->req_len) c->st = S_RESP_R;
            break;
        }
        case S_RESP_R: {
            if (c->rlen >= RBUF_CAP) { fail(c, "response head too large"); return; }
            int n = conn_read(c, c->rbuf + c->rlen, RBUF_CAP - c->rlen);
            if (n == IO_AGAIN) return;
            if (n <= 0) {   /* closed or failed */
                if (c->head_done && c->bmode == B_EOF) { /* body delimited by the close */
                    n_req++;
                    if (c->status < 200 || c->status > 299) n_non2xx++;
                    record_latency(now_us() - c->t_req);
                    close_conn(c);
                    if (now_us() < t_stop) start_conn(c);
                    return;
                }
                fail(c, c->rlen || c->head_done ? "connection closed mid-response"
                                                : "connection closed before the response");
                return;
            }
            bytes_in += (unsigned)n;
            c->rlen += (size_t)n;
            int r = parse_response(c);
            if (r < 0) { fail(c, "malformed response"); return; }
            if (r == 0) { compact(c); break; }
            n_req++;
            if (c->status < 200 || c->status > 299) {
                n_non2xx++;
                if (n_non2xx == 1) {
                    char line[80];
                    size_t l = c->head_done ? strcspn(c->rbuf, "\r\n") : 0;
                    if (l >= sizeof line) l = sizeof line - 1;
                    memcpy(line, c->rbuf, l); line[l] = 0;
                    fprintf(stderr, "post_bench: first non-2xx answer: %s\n", line);
                }
            }
            record_latency(now_us() - c->t_req);
            if (now_us() >= t_stop) { close_conn(c); return; }
            if (c->close_after) { close_conn(c); start_conn(c); return; }
            begin_request(c);
            break;
        }
        }
    }
    /* IO_ROUNDS exhausted with work possibly left in OpenSSL's buffers: make sure epoll wakes us
     * (level-triggered EPOLLOUT on a writable socket fires at once). */
    if (c->fd >= 0 && c->st != S_IDLE) want(c, EPOLLOUT | EPOLLIN);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}
static uint32_t pct(double p) {
    if (!nlat) return 0;
    size_t i = (size_t)(p * (double)(nlat - 1) + 0.5);
    return lat[i];
}

static char *read_file(const char *fn, size_t *len) {
    FILE *f = fopen(fn, "rb");
    if (!f) return NULL;
    char *b = malloc(MAX_BODY + 1);
    size_t n = b ? fread(b, 1, MAX_BODY + 1, f) : 0;
    fclose(f);
    if (!b || n > MAX_BODY) { free(b); return NULL; }
    *len = n;
    return b;
}

/* The request: head (with the -H headers) + body. NULL on allocation failure. */
static char *make_request(const char *body, size_t body_len, size_t *out_len) {
    char head[4096 + MAX_EXTRA_HEADERS * 1030];
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: post_bench/1\r\n"
                      "Accept: application/json\r\nContent-Type: application/json\r\n",
                      path, authority);
    for (int i = 0; i < n_extra_headers; i++)
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "%s\r\n", extra_headers[i]);
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "Content-Length: %zu\r\n\r\n", body_len);
    if (hl <= 0 || (size_t)hl >= sizeof head) return NULL;
    char *r = malloc((size_t)hl + body_len);
    if (!r) return NULL;
    memcpy(r, head, (size_t)hl);
    memcpy(r + hl, body, body_len);
    *out_len = (size_t)hl + body_len;
    return r;
}

/* body with every occurrence of subst_token replaced by the decimal number n (-S) */
static char *substitute(const char *body, size_t body_len, unsigned n, size_t *out_len) {
    char num[16];
    size_t tl = strlen(subst_token), nl = (size_t)snprintf(num, sizeof num, "%u", n), count = 0;
    for (const char *p = body; (p = memmem(p, body_len - (size_t)(p - body), subst_token, tl)); p += tl)
        count++;
    size_t len = body_len - count * tl + count * nl;
    char *out = malloc(len ? len : 1), *w = out;
    if (!out) return NULL;
    const char *p = body, *end = body + body_len, *m;
    while ((m = memmem(p, (size_t)(end - p), subst_token, tl))) {
        memcpy(w, p, (size_t)(m - p)); w += m - p;
        memcpy(w, num, nl); w += nl;
        p = m + tl;
    }
    memcpy(w, p, (size_t)(end - p));
    *out_len = len;
    return out;
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "t:x:a:n:C:Pp:b:H:S:c:d:T:")) != -1) {
        switch (opt) {
        case 't': target_str = optarg; break;
        case 'x': proxy_str = optarg; break;
        case 'a': authority = optarg; break;
        case 'n': sni = optarg; break;
        case 'C': cafile = optarg; break;
        case 'P': plain = 1; break;
        case 'H':
            if (n_extra_headers == MAX_EXTRA_HEADERS || strlen(optarg) > 1024 ||
                strpbrk(optarg, "\r\n") || !strchr(optarg, ':') || optarg[0] == ':') usage();
            extra_headers[n_extra_headers++] = optarg;
            break;
        case 'S':
            if (!optarg[0] || strlen(optarg) > 64) usage();
            subst_token = optarg;
            break;
        case 'p': path = optarg; break;
        case 'b': body_file = optarg; break;
        case 'c': nconns = bounded_int(optarg, 1, 10000); break;
        case 'd': duration_s = bounded_int(optarg, 1, 600); break;
        case 'T': timeout_s = bounded_int(optarg, 1, 60); break;
        default: usage();
        }
    }
    if (!target_str || (!cafile && !plain) || !body_file || optind != argc) usage();
    if (plain && proxy_str) {
        fprintf(stderr, "post_bench: -P (plain HTTP) and -x (CONNECT through a proxy) exclude each other\n");
        return 2;
    }
    if (parse_addr(target_str, &target_addr) < 0) {
        fprintf(stderr, "post_bench: -t must be a loopback IPv4 HOST:PORT\n"); return 2;
    }
    if (proxy_str) {
        if (parse_addr(proxy_str, &proxy_addr) < 0) {
            fprintf(stderr, "post_bench: -x must be a loopback IPv4 HOST:PORT\n"); return 2;
        }
        use_proxy = 1;
    }
    if (!authority) authority = target_str;
    if (strlen(authority) > 255 || strpbrk(authority, "\r\n ") || strlen(path) > 1024 ||
        path[0] != '/' || strpbrk(path, "\r\n ")) usage();
    static char sni_buf[256];
    if (!sni) {
        const char *colon = strrchr(authority, ':');
        size_t l = colon ? (size_t)(colon - authority) : strlen(authority);
        memcpy(sni_buf, authority, l); sni_buf[l] = 0;
        sni = sni_buf;
    }

    size_t body_len;
    char *body = read_file(body_file, &body_len);
    if (!body) { fprintf(stderr, "post_bench: cannot read %s (or larger than 16 MiB)\n", body_file); return 2; }
    if (subst_token && !memmem(body, body_len, subst_token, strlen(subst_token))) {
        fprintf(stderr, "post_bench: -S %s: the body does not contain it\n", subst_token); return 2;
    }
    if (!subst_token) {
        req = make_request(body, body_len, &req_len);
        if (!req) return 2;
    }
    connect_len = (size_t)snprintf(connect_req, sizeof connect_req,
                                   "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: post_bench/1\r\n\r\n",
                                   authority, authority);

    signal(SIGPIPE, SIG_IGN);
    if (!plain) {
        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx || SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
            fprintf(stderr, "post_bench: cannot load CA file %s\n", cafile); return 2;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)nconns, sizeof *conns);
    if (ep < 0 || !conns) return 2;
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        conns[i].idx = (uint32_t)i;
        conns[i].rbuf = malloc(RBUF_CAP);
        if (!conns[i].rbuf) return 2;
        if (subst_token) {
            size_t bl;
            char *b = substitute(body, body_len, (unsigned)i, &bl);
            char *r = b ? make_request(b, bl, &conns[i].req_len) : NULL;
            free(b);
            if (!r) return 2;
            conns[i].req = r;
        } else {
            conns[i].req = req; conns[i].req_len = req_len;
        }
    }
    free(body);
    if (subst_token) req_len = conns[0].req_len;   /* reported: connection 0's request */
    t0 = now_us();
    t_stop = t0 + (uint64_t)duration_s * 1000000u;
    for (int i = 0; i < nconns; i++) start_conn(&conns[i]);

    struct epoll_event evs[256];
    uint64_t next_sweep = t0 + 100000;
    /* bounded by time: stops at t_stop; each pass handles at most 256 events x IO_ROUNDS steps */
    for (;;) {
        uint64_t now = now_us();
        if (now >= t_stop) break;
        int wait_ms = (int)((t_stop - now) / 1000) + 1;
        if (wait_ms > 100) wait_ms = 100;
        int n = epoll_wait(ep, evs, 256, wait_ms);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); break; }
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[(uint32_t)evs[i].data.u64];
            if (c->fd < 0 || c->gen != (uint32_t)(evs[i].data.u64 >> 32)) continue;  /* stale */
            if ((evs[i].events & (EPOLLERR | EPOLLHUP)) && c->st == S_CONNECTING) {
                fail(c, "TCP connect refused"); continue;
            }
            drive(c);
        }
        now = now_us();
        if (now >= next_sweep) {   /* per-step timeouts */
            next_sweep = now + 100000;
            for (int i = 0; i < nconns; i++) {
                struct conn *c = &conns[i];
                if (c->fd >= 0 && now > c->deadline) {
                    n_timeouts++;
                    fail(c, c->st == S_RESP_R || c->st == S_REQ_W ? "request timed out"
                                                                  : "connection set-up timed out");
                }
            }
        }
    }
    double secs = (double)(now_us() - t0) / 1e6;
    int open_at_end = 0;
    for (int i = 0; i < nconns; i++) {
        if (conns[i].fd >= 0) open_at_end++;
        /* a clean end for the server's logs: close_notify (one non-blocking attempt), then close */
        if (conns[i].ssl && conns[i].st >= S_REQ_W) SSL_shutdown(conns[i].ssl);
        close_conn(&conns[i]);
        free(conns[i].rbuf);
        if (conns[i].req != req) free((char *)conns[i].req);
    }
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    double mean = 0;
    for (size_t i = 0; i < nlat; i++) mean += lat[i];
    if (nlat) mean /= (double)nlat;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("RESULT requests=%lld duration_s=%.3f rps=%.1f p50_us=%u p90_us=%u p99_us=%u "
           "mean_us=%.0f max_us=%u errors=%lld non2xx=%lld timeouts=%lld conns=%lld "
           "open_at_end=%d req_bytes=%zu bytes_in=%llu client_cpu_pct=%.1f\n",
           n_req, secs, (double)n_req / secs, pct(0.50), pct(0.90), pct(0.99), mean,
           nlat ? lat[nlat - 1] : 0, n_err, n_non2xx, n_timeouts, n_conns_ok, open_at_end,
           req_len, bytes_in, 100.0 * cpu_s / secs);
    if (first_error[0]) fprintf(stderr, "post_bench: first error: %s\n", first_error);
    SSL_CTX_free(ctx);
    free(req); free(lat); free(conns);
    close(ep);
    return 0;
}
