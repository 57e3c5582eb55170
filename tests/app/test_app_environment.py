"""Importing app.py changes nothing in the process; ``main()`` makes the libraries offline before it starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from settings import PROJECT_DIR

KEYS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY", "GRADIO_ANALYTICS_ENABLED")


def run_python(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter without the offline keys (plus ``env``); its last line, as JSON."""
    clean = {k: v for k, v in os.environ.items() if k not in KEYS} | env
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_app_leaves_the_environment_alone() -> None:
    out = run_python(
        "import json, os\n"
        "before = dict(os.environ)\n"
        "import app\n"
        "import huggingface_hub.constants as hub\n"
        "after = dict(os.environ)\n"
        "print(json.dumps({'changed': sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)),"
        " 'offline': hub.HF_HUB_OFFLINE}))\n"
    )
    assert out == {"changed": [], "offline": False}


def test_the_app_start_makes_the_libraries_offline_unless_told_otherwise() -> None:
    code = (
        "import json, os\n"
        "import app\n"
        "app.offline_environment(os.environ)\n"
        "from transformers.utils.hub import is_offline_mode\n"
        f"keys = {KEYS!r}\n"
        "print(json.dumps({'env': {k: os.environ.get(k) for k in keys}, 'offline': is_offline_mode()}))\n"
    )
    out = run_python(code)
    assert out == {
        "env": {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "GRADIO_ANALYTICS_ENABLED": "False",
        },
        "offline": True,
    }
    told = run_python(code, HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0", ANONYMIZED_TELEMETRY="True")
    assert told["offline"] is False
    assert told["env"]["HF_HUB_OFFLINE"] == "0" and told["env"]["ANONYMIZED_TELEMETRY"] == "True"
