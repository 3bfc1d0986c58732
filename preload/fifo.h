// FIFOs stored in myfs: a named pipe carries data between processes of one machine, so
// opening a myfs FIFO opens a kernel FIFO standing for it on this machine (one per
// cluster and inode, under $TMPDIR/myfs-fifos). Processes on one machine that open the
// same myfs FIFO meet in it, with the kernel's blocking, O_NONBLOCK and ENXIO rules.
#pragma once

#include "core/vfs.h"

namespace myfs::preload {

// If (at, rel) names a FIFO: opens its local stand-in with `flags` and returns the kernel
// fd (or -1, errno set); returns -2 when it is not a FIFO.
int openMyfsFifo(Vfs& vfs, At at, const std::string& rel, int flags);

}  // namespace myfs::preload
