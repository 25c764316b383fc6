"""Ending a process when its parent exits, through Linux's PR_SET_PDEATHSIG.

It imports nothing else of the product, so the test suite's helpers use it too.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

from dramatiq import Broker, Middleware

#: The prctl(2) option that sets the parent-death signal, from <linux/prctl.h>.
PR_SET_PDEATHSIG = 1

# Loaded at import, so that a child between fork and exec calls a function that
# is already resolved and takes no lock of the dynamic loader.
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def set_parent_death_signal(signum: int) -> bool:
    """Set the signal that the kernel sends to this process when its parent exits.

    Returns False outside Linux, where nothing is set. Linux sends the signal
    when the *thread* that forked this process exits, even if the rest of the
    parent runs on, so fork from a thread that lives as long as the child
    should, such as the main thread. The setting survives execve(2), except
    of a set-user-ID program, and fork(2) clears it in the new child. A parent
    that exited before this call goes unnoticed, so callers compare the
    parent's pid or liveness afterwards.
    """
    if _libc is None:
        return False
    if _libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        message = f"prctl(PR_SET_PDEATHSIG, {signum}) failed: {os.strerror(errno)}"
        raise OSError(errno, message)
    return True


class ExitWithLeader(Middleware):
    """A middleware that kills a worker process with SIGKILL when the `dramatiq`
    process that forked it exits.

    The leader passes SIGTERM on to its worker processes when it is asked to
    stop. A leader killed with SIGKILL passes nothing on, and its workers would
    go on taking jobs with no process left to stop them or to read their logs.
    They die as if their whole process group had been killed, and the outbox
    re-publishes the events of their jobs once those jobs' claims expire.
    SIGTERM would let them finish their jobs, but in a test
    where Redis died with the leader, a worker took more than 10 s to stop so.
    """

    def after_process_boot(self, broker: Broker) -> None:
        leader = multiprocessing.parent_process()
        if leader is None or not set_parent_death_signal(signal.SIGKILL):
            return

        # The leader may have exited while this process booted. A forked worker
        # compares pids, because the sentinel pipe of the first of several
        # workers stays open in the ones forked after it.
        if multiprocessing.get_start_method() == "fork":
            leader_exited = os.getppid() != leader.pid
        else:
            leader_exited = not leader.is_alive()
        if leader_exited:
            os.kill(os.getpid(), signal.SIGKILL)
