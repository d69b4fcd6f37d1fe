/* cmd_plot_none.c — `bert plot` in a tool built without PLplot
 * (PLOT=none): it says so. */
#include "cli/cli.h"

int cmd_plot(int argc, char **argv) {
    (void)argc, (void)argv;
    return cli_error("plot", "this bert was built without PLplot (PLOT=none); build it with PLOT=auto (libplplot-dev "
                     "installed) to draw");
}
