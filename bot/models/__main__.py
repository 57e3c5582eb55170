"""``python -m bot.models install-llm [--size 1.5b|0.5b] [--force]`` and ``python -m bot.models path``."""

import sys

from bot.models.install import main

sys.exit(main())
