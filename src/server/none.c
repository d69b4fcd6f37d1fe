/* none.c — `bert serve` in a tool built without libmicrohttpd (HTTP=none):
 * it says so. */
#include <stdio.h>

#include "server/serve.h"

int srv_run(const srv_params *params) {
    (void)params;
    fprintf(stderr, "bert serve: this bert was built without libmicrohttpd (HTTP=none); build it with HTTP=auto "
                    "(libmicrohttpd-dev installed) to serve\n");
    return 1;
}
