"""Offline verification: pass text + trust bundle + checkpoint zone + time -> verdict.

Imports only the domain and the pass scheme (a test enforces it), so it runs on an agent's
machine with no server and no database.
"""

from cirqliz.verify.core import Reason, Status, Verdict, verify_pass

__all__ = ["Reason", "Status", "Verdict", "verify_pass"]
