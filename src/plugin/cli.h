/* cli.h: the `dtf plugins` command (src/cli/plugins.c), declared here because the plugin
 * system owns it; src/main.c lists it in its command table. */
#ifndef DTF_PLUGIN_CLI_H
#define DTF_PLUGIN_CLI_H

/* `dtf plugins list [--config F | --coordinator URL] [--json]`: shows each plugin's name,
 * version, type, state, source and capabilities. Returns 0; 1 when an enabled plugin could not
 * be loaded; 2 for bad usage or a configuration error. */
int cmd_plugins(int argc, char **argv);

#endif
