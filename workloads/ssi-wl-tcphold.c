/*
 * ssi-wl-tcphold [SECONDS=600]
 *
 * Holds a listening TCP socket on 127.0.0.1 (ephemeral port), prints
 * "listening", then "alive N" once a second for N = 1..SECONDS, and exits 0.
 * Used to check that a checkpoint of a process holding a socket is refused
 * and that the process keeps running (the "alive" lines keep coming).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "wl_common.h"

int main(int argc, char **argv)
{
	unsigned long long seconds = 600;
	struct sockaddr_in sin;
	int fd;

	wl_init("ssi-wl-tcphold", "[SECONDS=600]");
	if (argc > 2)
		wl_usage();
	if (argc > 1)
		seconds = wl_arg_u(argv[1], 0, 100000000ULL, "SECONDS");

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		wl_die_errno("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		wl_die_errno("bind 127.0.0.1:0");
	if (listen(fd, 4) != 0)
		wl_die_errno("listen");
	wl_printf("listening\n");

	for (unsigned long long n = 1; n <= seconds; n++) {
		wl_sleep_ms(1000);
		wl_printf("alive %llu\n", n);
	}
	close(fd);
	return 0;
}
