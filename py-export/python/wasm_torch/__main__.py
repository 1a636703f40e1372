"""``python -m wasm_torch``: see :mod:`wasm_torch.cli`."""

import sys

from .cli import main

sys.exit(main())
