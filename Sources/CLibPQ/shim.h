#ifndef PROCRASTINATE_CLIBPQ_SHIM_H
#define PROCRASTINATE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <poll.h>
#endif
