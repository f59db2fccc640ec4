"""hermetic-python start-up, run once before the policy is armed and before the target.

It installs the native guards for surfaces that raise no audit event and then leaves
nothing behind: no globals, no references to originals (those live in Rust). Every
decision is made in Rust; nothing here holds policy. GUARD_LOOKUPS is set by the host.
"""

import sys

import _hermetic
import _imp
import posix

import hermetic  # noqa: F401  -- creates PolicyViolation now, not inside the audit hook

_hermetic.install_excepthook()

# Always installed: besides checking programs, the wrapper seals every child's environment.
# A `._pth` file may leave lib-dynload off the path; a later load of the module is then
# refused (a fresh copy) unless every program is granted.
try:
    import _posixsubprocess
except ImportError:
    pass
else:
    _hermetic.guard_fork_exec(_posixsubprocess)
_hermetic.guard_posix(posix)
_hermetic.guard_imp(_imp)

if GUARD_LOOKUPS:  # noqa: F821  -- set by the host
    import _socket

    _hermetic.guard_socket_lookups(_socket)

del sys.modules["_hermetic"]
