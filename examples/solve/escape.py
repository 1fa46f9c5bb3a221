# An untrusted program trying to leave the sandbox: rejected with a clear reason.
import os
ans = os.listdir("/")
