"""Child processes that a terminal's Ctrl-C does not reach, yet never outlive their parent."""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """Runs in a child between fork and exec: on Linux, SIGTERM it when its parent dies.

    For children started with `start_new_session=True`: in their own session a terminal's
    Ctrl-C reaches only the parent, which stops them in order; this covers the parent being
    killed outright (SIGKILL, a crash). prctl(PR_SET_PDEATHSIG) fires when the thread that
    forked the child ends, so start such children from the main thread (man 2 prctl).
    Elsewhere than Linux it does nothing.
    """
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1  # <linux/prctl.h>
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
