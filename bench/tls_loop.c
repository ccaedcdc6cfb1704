/* tls_loop: the C limit of bench/tls.py's rows, on the OpenSSL M2Sec is built with, doing per
 * handshake and per write what M2Sec's Connection asks OpenSSL to do.
 *
 *   tls_loop client PORT CAFILE full|resumed SECONDS
 *       TLS 1.3 client handshakes against a server on localhost:PORT (name resolved, socket, connect, SSL_new,
 *       SNI and SSL_set1_host "localhost", chain verified against CAFILE, SSL_connect,
 *       close_notify, SSL_free, close); prints the process's CPU microseconds per handshake.
 *   tls_loop server CERT KEY
 *       A server on 127.0.0.1 (prints its port): per client SSL_new, SSL_accept, one read (a
 *       byte answered with "k"), close_notify, SSL_free, close.  Each line read on stdin prints
 *       "handshakes CPU-microseconds" so far (the CPU of the handshakes only); EOF ends it.
 *   tls_loop sink CERT KEY BYTES
 *       A server (prints its port) reading BYTES from one client into a 64 KiB buffer, then
 *       answering "k"; prints the bytes per CPU second of its reads.
 *   tls_loop source PORT CAFILE BYTES
 *       A client writing BYTES to localhost:PORT in 64 KiB SSL_writes, then reading the answer;
 *       prints the bytes per CPU second of its writes.
 *   Both with Nagle off: the bulk rows pair each library's writer with the C sink and each
 *   library's reader with the C source, so that one figure is one end's CPU alone. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define CHUNK 65536

/* Built with -DTLS_LOOP_LIB -shared -fPIC (bench/tls.py does, as tls_loop.so), the handshake
 * functions marked TLS_LOOP_API are called in the bench's own Python process through ctypes:
 * the same C per handshake, run where M2Sec runs, so that the table tells what a Python
 * process costs OpenSSL apart from what M2Sec adds. */
#ifdef TLS_LOOP_LIB
#define TLS_LOOP_API __attribute__((visibility("default")))
#else
#define TLS_LOOP_API static
#endif

static double clock_of(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "tls_loop: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* A TCP connection to localhost:port, the name resolved each time as Python's connect(("localhost", port)) does. */
static int tcp_connect(int port) {
    struct addrinfo hints, *ai;
    char service[16];
    int fd, one = 1;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo("localhost", service, &hints, &ai)) die("cannot resolve localhost");
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) die("cannot connect");
    freeaddrinfo(ai);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

TLS_LOOP_API SSL_CTX *client_ctx(const char *cafile) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) || !SSL_CTX_load_verify_locations(ctx, cafile, NULL))
        die("cannot set up the client context");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return ctx;
}

TLS_LOOP_API SSL_CTX *server_ctx(const char *cert, const char *key) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
        || !SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"bench", 5))
        die("cannot set up the server context");
    return ctx;
}

static SSL *client_handshake(SSL_CTX *ctx, int port, SSL_SESSION *session, int *fd) {
    SSL *ssl;
    *fd = tcp_connect(port);
    if (!(ssl = SSL_new(ctx)) || !SSL_set_fd(ssl, *fd) || !SSL_set_tlsext_host_name(ssl, "localhost")
        || !SSL_set1_host(ssl, "localhost") || (session && !SSL_set_session(ssl, session)) || SSL_connect(ssl) != 1)
        die("client handshake failed");
    return ssl;
}

/* A session to resume from a first handshake with localhost:port (the tickets arrive with the first data). */
TLS_LOOP_API SSL_SESSION *client_session(SSL_CTX *ctx, int port) {
    SSL_SESSION *session;
    char buf[100];
    int fd;
    SSL *ssl = client_handshake(ctx, port, NULL, &fd);
    if (SSL_write(ssl, "x\n", 2) != 2 || SSL_read(ssl, buf, sizeof buf) <= 0 || !(session = SSL_get1_session(ssl)))
        die("no session to resume");
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    return session;
}

/* One client handshake (resuming session unless NULL), close_notify, SSL_free, close. */
TLS_LOOP_API void client_once(SSL_CTX *ctx, int port, SSL_SESSION *session) {
    int fd;
    SSL *ssl = client_handshake(ctx, port, session, &fd);
    if (session && !SSL_session_reused(ssl)) die("the session was not resumed");
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}

static int client(int port, const char *cafile, int resume, double secs) {
    SSL_CTX *ctx = client_ctx(cafile);
    SSL_SESSION *session = NULL;
    long count = 0;
    double start, el;
    if (resume) session = client_session(ctx, port);
    start = clock_of(CLOCK_PROCESS_CPUTIME_ID);
    do {
        client_once(ctx, port, session);
        count++;
        el = clock_of(CLOCK_PROCESS_CPUTIME_ID) - start;
    } while (el < secs);
    printf("%.1f\n", el / count * 1e6);
    SSL_SESSION_free(session);
    SSL_CTX_free(ctx);
    return 0;
}

static int listener(void) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 128) < 0
        || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("cannot listen");
    return fd;
}

/* One accepted client: SSL_new, SSL_accept, one read (a byte answered with "k"), close_notify, SSL_free, close. */
TLS_LOOP_API void serve_one(SSL_CTX *ctx, int fd) {
    char buf[1024];
    SSL *ssl;
    if ((ssl = SSL_new(ctx)) && SSL_set_fd(ssl, fd) && SSL_accept(ssl) == 1) {
        if (SSL_read(ssl, buf, sizeof buf) > 0) SSL_write(ssl, "k", 1);
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
}

static int server(const char *cert, const char *key) {
    SSL_CTX *ctx = server_ctx(cert, key);
    struct pollfd p[2];
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    long count = 0;
    double cpu = 0, t;
    char buf[1024];
    int lfd = listener(), fd;
    getsockname(lfd, (struct sockaddr *)&a, &len);
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    p[0].fd = 0;
    p[1].fd = lfd;
    p[0].events = p[1].events = POLLIN;
    for (;;) {
        if (poll(p, 2, -1) < 0) die("poll");
        if (p[0].revents) {
            if (!fgets(buf, sizeof buf, stdin)) break;
            printf("%ld %.1f\n", count, cpu * 1e6);
            fflush(stdout);
        }
        if (!p[1].revents || (fd = accept(lfd, NULL, NULL)) < 0) continue;
        t = clock_of(CLOCK_THREAD_CPUTIME_ID);
        serve_one(ctx, fd);
        cpu += clock_of(CLOCK_THREAD_CPUTIME_ID) - t;
        count++;
    }
    SSL_CTX_free(ctx);
    return 0;
}

/* The reading end of the bulk rows: one client, its BYTES read into a 64 KiB buffer; prints the
 * bytes per CPU second of the reads. */
static int sink(const char *cert, const char *key, long bytes) {
    SSL_CTX *ctx = server_ctx(cert, key);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    static unsigned char buf[CHUNK];
    long n = 0;
    size_t got;
    double t;
    int lfd = listener(), fd, one = 1;
    SSL *ssl;
    getsockname(lfd, (struct sockaddr *)&a, &len);
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    if ((fd = accept(lfd, NULL, NULL)) < 0) die("accept");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!(ssl = SSL_new(ctx)) || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1) die("server handshake failed");
    t = clock_of(CLOCK_THREAD_CPUTIME_ID);
    while (n < bytes) {
        if (!SSL_read_ex(ssl, buf, sizeof buf, &got)) die("read failed");
        n += (long)got;
    }
    t = clock_of(CLOCK_THREAD_CPUTIME_ID) - t;
    SSL_write(ssl, "k", 1);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    printf("%.0f\n", bytes / t);
    SSL_CTX_free(ctx);
    return 0;
}

/* The writing end: BYTES in 64 KiB SSL_writes to localhost:port, then the server's "k"; prints
 * the bytes per CPU second of the writes. */
static int source(int port, const char *cafile, long bytes) {
    SSL_CTX *ctx = client_ctx(cafile);
    unsigned char *data = malloc(CHUNK), k;
    double t;
    long i;
    int fd;
    SSL *ssl = client_handshake(ctx, port, NULL, &fd);
    for (i = 0; i < CHUNK; i++) data[i] = (unsigned char)rand();
    t = clock_of(CLOCK_THREAD_CPUTIME_ID);
    for (i = 0; i < bytes / CHUNK; i++)
        if (SSL_write(ssl, data, CHUNK) != CHUNK) die("write failed");
    t = clock_of(CLOCK_THREAD_CPUTIME_ID) - t;
    if (SSL_read(ssl, &k, 1) != 1) die("no answer");
    printf("%.0f\n", bytes / t);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    free(data);
    SSL_CTX_free(ctx);
    return 0;
}

#ifndef TLS_LOOP_LIB
int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);   /* a peer gone before our close_notify: an error, as in Python */
    if (argc == 6 && !strcmp(argv[1], "client"))
        return client(atoi(argv[2]), argv[3], !strcmp(argv[4], "resumed"), atof(argv[5]));
    if (argc == 4 && !strcmp(argv[1], "server")) return server(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "sink")) return sink(argv[2], argv[3], atol(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "source")) return source(atoi(argv[2]), argv[3], atol(argv[4]));
    fprintf(stderr, "usage: tls_loop client PORT CAFILE full|resumed SECONDS | server CERT KEY"
            " | sink CERT KEY BYTES | source PORT CAFILE BYTES\n");
    return 2;
}
#endif
