/* sbv2 serve (serve.c): the HTTP server, a thin user of the public API. */
#ifndef SBV2_SERVER_SERVE_H
#define SBV2_SERVER_SERVE_H

int serve_main(int argc, char **argv);

#endif
