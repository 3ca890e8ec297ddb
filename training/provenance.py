"""What the training/ scripts write into their results files: the code they ran (the commit, as a run's run.json names
it) and the machine."""
import os
import platform
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def commit():
    """This checkout's short commit hash, or "unknown" outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def code_state():
    """"commit abc1234", with " with uncommitted changes in FILES" when tracked files differ from it."""
    c = commit()
    if c == "unknown":
        return "unknown (not a git checkout)"
    dirty = [line[3:] for line in subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                                  capture_output=True, text=True).stdout.splitlines() if line.strip()]
    if not dirty:
        return "commit " + c
    # which files: a README edited during a run is not a change of the code measured
    return "commit %s with uncommitted changes in %s%s" % (c, ", ".join(dirty[:5]),
                                                            " and %d more" % (len(dirty) - 5) if len(dirty) > 5 else "")


def machine():
    """CPU model, logical cores and kernel."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), model)
    except OSError:
        pass
    return "%s, %d logical cores, %s %s" % (model, os.cpu_count(), platform.system(), platform.release())
