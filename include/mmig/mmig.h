/*
 * mmig/mmig.h - libmmig: multi-step migrations across databases that
 * survive crashes.  Includes every public header.  The caveats (threads,
 * fork, network filesystems) are at the top of mmig/common.h.
 */
#ifndef MMIG_MMIG_H
#define MMIG_MMIG_H

#include "mmig/common.h"
#include "mmig/coordinator.h"
#include "mmig/ctx.h"
#include "mmig/error.h"
#include "mmig/import.h"
#include "mmig/journal.h"
#include "mmig/op.h"
#include "mmig/recover.h"
#include "mmig/registry.h"
#include "mmig/scope.h"

#endif
